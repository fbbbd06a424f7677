"""The null sink: discards batches, acknowledges them, and is selectable in config as `type: "null"`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from logship.app.config_file import load_config
from logship.app.sink_registry import build_sink
from logship.core.batch import Batch
from logship.core.sink import Outcome
from sinks.null import NullSink, NullSinkSettings
from tests.harness import AgentProcess, wait_until, write_config


def test_every_batch_is_delivered_and_counted() -> None:
    sink = NullSink(NullSinkSettings.model_validate({"name": "n", "type": "null"}))
    sink.healthcheck()
    assert sink.send(Batch([{"n": 1}, {"n": 2}])).outcome is Outcome.DELIVERED
    assert sink.send(Batch([{"n": 3}])).outcome is Outcome.DELIVERED
    sink.close(1)
    assert sink.events == 3
    assert sink.encoded_bytes == 0


def test_encode_serialises_the_batch_before_dropping_it() -> None:
    sink = NullSink(NullSinkSettings.model_validate({"name": "n", "type": "null", "encode": True}))
    sink.send(Batch([{"n": 1}, {"n": 22}]))
    assert sink.encoded_bytes == len(b'{"n":1}\n{"n":22}\n')


def test_a_quoted_null_type_in_yaml_builds_a_null_sink(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "inputs:\n"
        f"  - name: app\n    paths: ['{tmp_path}/*.log']\n"
        "sinks:\n"
        '  - name: discard\n    type: "null"\n'
    )
    config = load_config(path, {})
    assert isinstance(build_sink(config.sinks[0]), NullSink)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="encod"):
        NullSinkSettings.model_validate({"name": "n", "type": "null", "encoding": True})


def test_the_agent_checkpoints_lines_sent_to_the_null_sink(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(5000)))
    config = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {"data_dir": str(tmp_path / "data"), "checkpoint_interval": "100ms"},
            "inputs": [{"name": "app", "paths": [str(logs / "*.log")]}],
            "sinks": [{"name": "discard", "type": "null"}],
        },
    )
    agent = AgentProcess(config).start()
    agents.append(agent)
    registry = tmp_path / "data" / "registry.json"
    size = log.stat().st_size

    def acknowledged() -> bool:
        if not registry.exists():
            return False
        files = orjson.loads(registry.read_bytes())["files"]
        return sum(entry["offset"] for entry in files.values()) == size

    wait_until(acknowledged, timeout=60, message="the whole file acknowledged in the registry")
    assert agent.stop() == 0
