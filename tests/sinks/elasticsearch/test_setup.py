"""`logship setup elasticsearch -c FILE` against the fake cluster, which records what it was sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sinks.elasticsearch.enrich_mappings import ENRICH_PROPERTIES
from sinks.elasticsearch.setup import METADATA_PROPERTIES
from tests.doubles.es_server import EsServer
from tests.harness import run_cli, write_config

NGINX_RULE = {
    "name": "nginx",
    "regex": r'^(?P<source_ip>\S+) - \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<url>\S+) [^"]+" (?P<status>\d{3}) (?P<bytes>\d+)',
    "types": {"status": "int", "bytes": "int"},
    "timestamp": {"field": "time", "format": "%d/%b/%Y:%H:%M:%S %z"},
}


@pytest.fixture
def server() -> Iterator[EsServer]:
    with EsServer() as srv:
        yield srv


def config(tmp_path: Path, **sink: Any) -> Path:
    return write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {"data_dir": str(tmp_path / "data")},
            "inputs": [{"name": "web", "paths": [str(tmp_path / "*.log")], "parsers": ["nginx"]}],
            "parsers": [NGINX_RULE],
            "sinks": [{"name": "es", "type": "elasticsearch", **sink}],
        },
    )


def requests(server: EsServer, method: str) -> dict[str, Any]:
    return {r.path: r.body for r in server.state.requests if r.method == method}


def test_data_stream_setup_builds_on_the_built_in_logs_template(
    tmp_path: Path, server: EsServer
) -> None:
    path = config(
        tmp_path,
        hosts=[server.url],
        dataset="nginx.access",
        namespace="prod",
        setup={"retention": "14d", "kibana": {"url": server.url, "space": "ops"}},
    )
    done = run_cli("setup", "elasticsearch", "-c", str(path))
    assert done.returncode == 0, done.stderr
    puts = requests(server, "PUT")
    assert set(puts) == {
        "/_ilm/policy/logship-nginx.access",
        "/_component_template/logs-nginx.access@logship",
        "/_index_template/logship-logs-nginx.access",
    }
    policy = puts["/_ilm/policy/logship-nginx.access"]["policy"]["phases"]
    assert policy["delete"] == {"min_age": "1209600s", "actions": {"delete": {}}}
    assert "rollover" in policy["hot"]["actions"]
    component = puts["/_component_template/logs-nginx.access@logship"]["template"]
    assert component["settings"] == {"index.lifecycle.name": "logship-nginx.access"}
    assert component["mappings"]["properties"] == {
        **ENRICH_PROPERTIES,
        **METADATA_PROPERTIES,
        "status": {"type": "long"},
        "bytes": {"type": "long"},
    }
    template = puts["/_index_template/logship-logs-nginx.access"]
    assert template["index_patterns"] == ["logs-nginx.access-*"]
    assert template["data_stream"] == {}
    assert 100 < template["priority"] < 200
    assert template["composed_of"] == [
        "logs@mappings",
        "logs@settings",
        "ecs@mappings",
        "logs-nginx.access@logship",
        "logs@custom",
        "logs-nginx.access@custom",
    ]
    assert set(template["ignore_missing_component_templates"]) == {
        "logs@custom",
        "logs-nginx.access@custom",
    }
    (view_request,) = [r for r in server.state.requests if "data_view" in r.path]
    assert view_request.path == "/s/ops/api/data_views/data_view"
    assert "kbn-xsrf" in {k.lower() for k in view_request.headers}
    view = view_request.body["data_view"]
    assert (view["title"], view["timeFieldName"]) == ("logs-nginx.access-*", "@timestamp")
    assert "Kibana data view logs-nginx.access-*: ok" in done.stdout


def test_index_mode_setup_installs_ecs_mappings_that_win_over_the_built_in_template(
    tmp_path: Path, server: EsServer
) -> None:
    path = config(
        tmp_path,
        hosts=[server.url],
        index="logs-{service.name}-%Y.%m.%d",
        default_index="logs-unknown-%Y.%m.%d",
    )
    done = run_cli("setup", "elasticsearch", "-c", str(path))
    assert done.returncode == 0, done.stderr
    puts = requests(server, "PUT")
    assert set(puts) == {"/_index_template/logship-es"}  # no retention: no ILM policy
    template = puts["/_index_template/logship-es"]
    assert template["index_patterns"] == ["logs-*-*.*.*", "logs-unknown-*.*.*"]
    assert template["priority"] > 100
    assert "data_stream" not in template
    properties = template["template"]["mappings"]["properties"]
    assert properties["@timestamp"] == {"type": "date"}
    assert properties["message"] == {"type": "text"}
    assert properties["log.level"]["type"] == "keyword"
    assert properties["source.ip"] == {"type": "ip"}
    assert properties["http.response.status_code"] == {"type": "long"}
    assert properties["status"] == {"type": "long"}
    # After setup, such names are plain indices, not data streams.
    server.state.bulk(
        b'{"create":{"_index":"logs-web-2026.11.24","_id":"a"}}\n{"@timestamp":"2026-11-24T00:00:00Z"}\n',
        None,
    )
    assert server.state.data_streams == set()


def test_setup_fails_clearly_on_missing_privileges_and_unreachable_clusters(
    tmp_path: Path, server: EsServer
) -> None:
    server.state.credentials = {"ApiKey right"}
    path = config(tmp_path, hosts=[server.url], auth={"api_key": "wrong"})
    done = run_cli("setup", "elasticsearch", "-c", str(path))
    assert done.returncode == 1
    assert "answered 401" in done.stderr
    assert "manage_index_templates" in done.stderr
    server.down()
    done = run_cli("setup", "elasticsearch", "-c", str(path))
    assert done.returncode == 1
    assert "cannot reach elasticsearch" in done.stderr
    other = config(tmp_path, hosts=[server.url])
    done = run_cli("setup", "elasticsearch", "-c", str(other), "--sink", "nope")
    assert done.returncode == 2
    assert "no elasticsearch sink named 'nope'" in done.stderr
