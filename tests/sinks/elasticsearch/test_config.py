"""Elasticsearch sink settings: errors that name the key, secrets that stay masked."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from logship.app.config_file import ConfigError, parse_config
from logship.core.secrets import mask_secrets
from sinks.elasticsearch.config import ElasticsearchSinkSettings


def load(tmp_path: Path, sink: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    doc = {
        "inputs": [{"name": "app", "paths": [str(tmp_path / "*.log")]}],
        "sinks": [{"name": "es", "type": "elasticsearch", **sink}],
    }
    return parse_config(yaml.safe_dump(doc), "agent.yaml", tmp_path, environ or {})


def problems(tmp_path: Path, sink: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, sink)
    return str(info.value)


def test_defaults_are_a_data_stream_with_deterministic_ids(tmp_path: Path) -> None:
    config = load(tmp_path, {"hosts": ["http://localhost:9200/"]})
    (sink,) = config.sinks
    assert isinstance(sink, ElasticsearchSinkSettings)
    assert sink.hosts == ["http://localhost:9200"]
    assert sink.dataset is None  # each record's event.dataset names its stream
    assert sink.data_stream == "logs-{event.dataset}-default"
    assert sink.id == "deterministic"
    assert sink.compression_level == 1


def test_a_dash_in_dataset_or_namespace_is_refused_with_the_reason(tmp_path: Path) -> None:
    text = problems(tmp_path, {"hosts": ["http://h:9200"], "dataset": "nginx-access"})
    assert "sinks[0].dataset (es)" in text
    assert "must not contain '-'" in text
    assert "logs-<dataset>-<namespace>" in text
    assert "must not contain '-'" in problems(
        tmp_path, {"hosts": ["http://h:9200"], "namespace": "prod-eu"}
    )
    assert "lowercase" in problems(tmp_path, {"hosts": ["http://h:9200"], "dataset": "Nginx"})


def test_hosts_or_cloud_id_is_required_and_urls_are_checked(tmp_path: Path) -> None:
    assert "set hosts" in problems(tmp_path, {})
    assert "hosts[0]: expected a URL" in problems(tmp_path, {"hosts": ["localhost:9200"]})
    text = problems(tmp_path, {"hosts": ["http://elastic:pw@h:9200"]})
    assert "not in the URL" in text
    assert "pw" not in text.replace("http", "")
    assert "not a valid Cloud ID" in problems(tmp_path, {"cloud_id": "nonsense"})
    cloud = "prod:" + base64.b64encode(b"eu-west-1.aws.found.io:443$abc123$def456").decode()
    assert load(tmp_path, {"cloud_id": cloud}).sinks[0].cloud_id == cloud


def test_one_auth_method_and_secrets_from_the_environment_are_masked(tmp_path: Path) -> None:
    text = problems(
        tmp_path, {"hosts": ["http://h:9200"], "auth": {"api_key": "k", "bearer_token": "t"}}
    )
    assert "choose one authentication method" in text
    assert "go together" in problems(
        tmp_path, {"hosts": ["http://h:9200"], "auth": {"username": "u"}}
    )
    config = load(
        tmp_path,
        {"hosts": ["http://h:9200"], "auth": {"username": "agent", "password": "${ES_PASSWORD}"}},
        {"ES_PASSWORD": "s3cret"},
    )
    assert config.sinks[0].auth.password == "s3cret"
    shown = mask_secrets(config.model_dump(mode="json"))
    assert shown["sinks"][0]["auth"] == {
        "username": "agent",
        "password": "***",
        "api_key": None,
        "bearer_token": None,
    }


def test_tls_files_must_exist(tmp_path: Path) -> None:
    text = problems(tmp_path, {"hosts": ["https://h:9200"], "tls": {"ca_file": "missing-ca.pem"}})
    assert "sinks[0].tls" in text
    assert "missing-ca.pem is not a readable file" in text


def test_index_templates_are_checked_and_the_default_index_may_not_name_fields(
    tmp_path: Path,
) -> None:
    assert "unexpected '}'" in problems(tmp_path, {"hosts": ["http://h:9200"], "index": "logs-}"})
    text = problems(
        tmp_path,
        {"hosts": ["http://h:9200"], "index": "logs-{service.name}", "default_index": "x-{a}"},
    )
    assert "default_index: must not name record fields" in text


def test_unknown_keys_suggest_the_right_one(tmp_path: Path) -> None:
    assert "did you mean 'dataset'" in problems(
        tmp_path, {"hosts": ["http://h:9200"], "datset": "x"}
    )
