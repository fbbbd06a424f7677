"""Kafka sink settings: what loads, and the errors people get for what does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from logship.app.config_file import ConfigError, parse_config
from sinks.kafka.config import KafkaSinkSettings
from tests.harness import run_cli, write_config


def load(tmp_path: Path, **sink: Any) -> KafkaSinkSettings:
    doc = {
        "inputs": [{"name": "app", "paths": [str(tmp_path / "*.log")]}],
        "sinks": [{"name": "kafka", "type": "kafka", **sink}],
    }
    config = parse_config(yaml.safe_dump(doc), "agent.yaml", tmp_path)
    settings = config.sinks[0]
    assert isinstance(settings, KafkaSinkSettings)
    return settings


def problems(tmp_path: Path, **sink: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **sink)
    return caught.value.problems


def test_defaults_are_safe_and_producer_options_override_them(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        bootstrap_servers="kafka-1:9092, kafka-2:9092",
        topic="logs",
        message_timeout="45s",
        producer_options={"compression.type": "zstd", "linger.ms": 20},
    )
    assert settings.bootstrap_servers == ["kafka-1:9092", "kafka-2:9092"]
    config = settings.producer_config()
    assert config["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["compression.type"] == "zstd"
    assert config["linger.ms"] == 20
    assert config["message.timeout.ms"] == 45_000
    assert config["delivery.report.only.error"] is True


def test_missing_bootstrap_servers_is_the_loaders_required_key_message(tmp_path: Path) -> None:
    assert problems(tmp_path, topic="logs") == [
        "sinks[0].bootstrap_servers (kafka): required key is missing; "
        "expected a list of host:port brokers"
    ]


def test_an_unknown_librdkafka_property_is_named_with_its_key_path(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path, bootstrap_servers=["k:9092"], topic="logs", producer_options={"lingr.ms": 5}
    )
    assert problem.startswith(
        "sinks[0].producer_options (kafka): unknown librdkafka property 'lingr.ms'"
    )


def test_an_invalid_value_names_the_property_librdkafka_refused(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        bootstrap_servers=["k:9092"],
        topic="logs",
        producer_options={"linger.ms": 5, "compression.type": "lz5"},
    )
    assert problem.startswith(
        "sinks[0].producer_options (kafka): librdkafka refuses 'compression.type'"
    )
    assert "lz5" in problem


def test_settings_refused_only_together_are_reported_with_librdkafkas_reason(
    tmp_path: Path,
) -> None:
    (problem,) = problems(
        tmp_path, bootstrap_servers=["k:9092"], topic="logs", producer_options={"acks": 1}
    )
    assert "`acks` must be set to `all` when `enable.idempotence` is true" in problem


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        bootstrap_servers=["k:9092"],
        topic="logs",
        producer_options={"sasl.password": ["hunter2"]},
    )
    assert "sasl.password" in problem
    assert "hunter2" not in problem


@pytest.mark.parametrize(
    ("option", "instead"),
    [
        ("bootstrap.servers", "bootstrap_servers"),
        ("message.timeout.ms", "message_timeout"),
        ("delivery.report.only.error", "delivery reports"),
    ],
)
def test_options_the_sink_owns_cannot_be_overridden(
    tmp_path: Path, option: str, instead: str
) -> None:
    (problem,) = problems(
        tmp_path, bootstrap_servers=["k:9092"], topic="logs", producer_options={option: "1"}
    )
    assert problem.startswith(f"sinks[0].producer_options (kafka): {option!r} cannot be set here")
    assert instead in problem


def test_a_topic_template_needs_a_fallback_or_a_default_topic(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, bootstrap_servers=["k:9092"], topic="logs-{service.name}")
    assert problem.startswith("sinks[0].topic (kafka): 'logs-{service.name}' has no value")
    assert "default_topic" in problem
    load(tmp_path, bootstrap_servers=["k:9092"], topic="logs-{service.name:-misc}")
    load(
        tmp_path,
        bootstrap_servers=["k:9092"],
        topic="logs-{service.name}",
        default_topic="logs-misc",
    )


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        ({"topic": "my logs"}, "sinks[0].topic (kafka): 'my logs' is not a valid topic name"),
        ({"topic": "logs-{"}, "sinks[0].topic (kafka): invalid template: unexpected '{'"),
        ({"topic": "logs", "key": "{a"}, "sinks[0].key (kafka): invalid template"),
        (
            {"topic": "logs-{a}", "default_topic": "a/b"},
            "sinks[0].default_topic (kafka): 'a/b' is not a valid topic name",
        ),
        ({"topic": "logs", "message_timeout": "0s"}, "sinks[0].message_timeout (kafka)"),
    ],
)
def test_topic_key_and_timeouts_are_checked(
    tmp_path: Path, sink: dict[str, Any], expected: str
) -> None:
    found = problems(tmp_path, bootstrap_servers=["k:9092"], **sink)
    assert any(p.startswith(expected) for p in found), found


def test_bootstrap_servers_must_look_like_host_port(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, bootstrap_servers=["kafka:ninety"], topic="logs")
    assert problem.startswith("sinks[0].bootstrap_servers (kafka): expected host:port brokers")


def test_logship_check_names_the_bad_property_and_masks_secrets(tmp_path: Path) -> None:
    doc = {
        "inputs": [{"name": "app", "paths": [str(tmp_path / "*.log")]}],
        "sinks": [
            {
                "name": "kafka",
                "type": "kafka",
                "bootstrap_servers": ["127.0.0.1:9092"],
                "topic": "logs",
                "producer_options": {"sasl.password": "${KAFKA_PASSWORD}"},
            }
        ],
    }
    good = write_config(tmp_path / "good.yaml", doc)
    result = run_cli("check", "-c", str(good), env={"KAFKA_PASSWORD": "hunter2"})
    assert result.returncode == 0, result.stderr
    assert "sasl.password: '***'" in result.stdout
    assert "hunter2" not in result.stdout

    doc["sinks"][0]["producer_options"] = {"lingr.ms": 5}
    bad = write_config(tmp_path / "bad.yaml", doc)
    result = run_cli("check", "-c", str(bad))
    assert result.returncode == 2
    assert "sinks[0].producer_options (kafka): unknown librdkafka property 'lingr.ms'" in (
        result.stderr
    )
