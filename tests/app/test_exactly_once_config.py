"""`delivery: exactly_once` in config: what the agent refuses to start with, naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from logship.app.config_file import ConfigError, parse_config
from logship.app.supervisor import resolve_workers

KAFKA = {
    "name": "kafka",
    "type": "kafka",
    "bootstrap_servers": "127.0.0.1:9092",
    "topic": "logs",
}
FILE = {"name": "archive", "type": "file", "path": "./out/logs.ndjson"}


def config_text(sinks: list[dict[str, Any]], **agent: Any) -> str:
    return yaml.safe_dump(
        {
            "agent": {"data_dir": "./data", **agent},
            "inputs": [{"name": "app", "paths": ["/var/log/app/*.log"]}],
            "sinks": sinks,
        }
    )


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml", Path("/etc/logship"), {})
    return "\n".join(info.value.problems)


def test_an_exactly_once_sink_beside_another_sink_is_refused_naming_the_key() -> None:
    text = config_text([{**KAFKA, "delivery": "exactly_once"}, FILE])
    assert "sinks[0].delivery: exactly_once needs the sink to be the agent's only sink" in (
        problems(text)
    )


def test_an_exactly_once_file_sink_with_several_workers_is_refused() -> None:
    text = config_text([{**FILE, "delivery": "exactly_once"}], workers=2)
    assert "sinks[0].delivery: exactly_once into a file needs agent.workers: 1" in problems(text)


def test_workers_auto_means_one_worker_for_an_exactly_once_file_sink() -> None:
    config = parse_config(
        config_text([{**FILE, "delivery": "exactly_once"}]), "t.yaml", Path("/etc"), {}
    )
    assert resolve_workers(config) == 1


def test_a_message_timeout_longer_than_the_transaction_timeout_is_refused() -> None:
    sink = {**KAFKA, "delivery": "exactly_once", "message_timeout": "90s"}
    assert "sinks[0].message_timeout: expected at most transaction_timeout" in problems(
        config_text([sink])
    )


def test_transactional_id_in_producer_options_points_to_delivery() -> None:
    sink = {**KAFKA, "producer_options": {"transactional.id": "mine"}}
    assert "set delivery: exactly_once instead" in problems(config_text([sink]))


def test_an_unknown_delivery_mode_lists_the_two_modes() -> None:
    text = problems(config_text([{**FILE, "delivery": "once"}]))
    assert "sinks[0].delivery" in text
    assert "at_least_once" in text
    assert "exactly_once" in text


def test_an_offsets_topic_that_is_also_the_records_topic_is_refused() -> None:
    sink = {**KAFKA, "delivery": "exactly_once", "offsets_topic": "logs"}
    assert "sinks[0].offsets_topic: expected a topic of its own" in problems(config_text([sink]))


def test_a_spool_on_an_exactly_once_sink_is_refused() -> None:
    text = config_text([{**KAFKA, "delivery": "exactly_once", "spool": {"max_bytes": "64MiB"}}])
    assert "sinks[0].spool: not with delivery: exactly_once" in problems(text)
