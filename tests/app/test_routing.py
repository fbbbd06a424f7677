"""Routing: `inputs[].sinks` and `sinks[].when` put each record in exactly the sinks it is
routed to; a record no sink takes is counted and still checkpointed; bad routes are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.app.config_file import ConfigError, load_config
from logship.core.ack import AckTracker
from logship.core.lines import Lines
from logship.core.metrics import Metrics
from logship.deliver.queue import SinkQueue
from logship.tail.routing import Route, ship_routed
from tests.harness import AgentProcess, read_ndjson, run_cli, wait_until, write_config

RULE = {"name": "leveled", "regex": r"^(?P<lvl>\w+) (?P<n>\d+)$", "types": {"n": "int"}}
LEVELS = ["info", "warn", "error", "audit"]


def routing_doc(tmp_path: Path) -> dict[str, Any]:
    logs = tmp_path / "logs"
    out = tmp_path / "out"

    def sink(name: str, when: dict[str, Any] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": name,
            "type": "file",
            "path": str(out / f"{name}.ndjson"),
            "batch": {"linger_ms": 20},
        }
        if when is not None:
            doc["when"] = when
        return doc

    return {
        "agent": {
            "data_dir": str(tmp_path / "data"),
            "checkpoint_interval": "100ms",
            "http": {"address": None},
            "workers": 1,
        },
        "inputs": [
            {
                "name": "web",
                "paths": [str(logs / "web.log")],
                "parsers": ["leveled"],
                "poll_interval": "50ms",
                "sinks": ["errors", "audit"],
            },
            {
                "name": "db",
                "paths": [str(logs / "db.log")],
                "parsers": ["leveled"],
                "poll_interval": "50ms",
            },
        ],
        "parsers": [RULE],
        "sinks": [
            sink("all"),
            sink("errors", {"field": "lvl", "in": ["error", "warn"]}),
            sink("audit", {"field": "lvl", "equals": "audit"}),
        ],
    }


def received(tmp_path: Path, sink: str) -> list[tuple[str, int]]:
    records = read_ndjson(tmp_path / "out" / f"{sink}.ndjson")
    return [(Path(r["log"]["file"]["path"]).stem, r["n"]) for r in records]


def test_two_inputs_three_sinks_each_record_lands_in_exactly_the_sinks_it_is_routed_to(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    n = 400
    for name in ("web", "db"):
        (logs / f"{name}.log").write_text("".join(f"{LEVELS[i % 4]} {i}\n" for i in range(n)))
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", routing_doc(tmp_path))).start()
    agents.append(agent)
    expected = {
        "all": [("db", i) for i in range(n)],
        "errors": sorted(
            [(f, i) for f in ("web", "db") for i in range(n) if LEVELS[i % 4] in ("warn", "error")]
        ),
        "audit": sorted([(f, i) for f in ("web", "db") for i in range(n) if i % 4 == 3]),
    }
    for sink, want in expected.items():
        wait_until(
            lambda sink=sink, want=want: len(received(tmp_path, sink)) >= len(want),
            timeout=60,
            message=f"records in {sink}",
        )

    def checkpointed_to_the_end() -> bool:
        try:
            doc = orjson.loads((tmp_path / "data" / "registry.json").read_bytes())
        except FileNotFoundError:
            return False
        sizes = {str(logs / f"{f}.log"): (logs / f"{f}.log").stat().st_size for f in ("web", "db")}
        offsets = {e["path"]: e["offset"] for e in doc["files"].values()}
        return offsets == sizes

    # web's info lines reach no sink: they are still checkpointed.
    wait_until(checkpointed_to_the_end, timeout=30, message="both files checkpointed to the end")
    assert agent.stop() == 0
    for sink, want in expected.items():
        got = received(tmp_path, sink)
        assert sorted(got) == want, sink
        assert len(set(got)) == len(got), f"{sink}: duplicates"


def test_a_record_no_sink_takes_is_counted_and_its_chunk_acknowledged() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    metrics = Metrics()
    queue = SinkQueue(100, 1 << 20)
    routes = [Route("errors", queue, lambda r: r["lvl"] == "error")]
    entries: list[dict[str, Any]] = [{"lvl": "info"}, {"lvl": "error"}, {"lvl": "info"}]
    lines = Lines(starts=[0, 10, 20], end=30)
    counter = metrics.records_unrouted.labels("web")
    ship_routed(acks, "f", lines, entries, routes, False, counter)
    unrouted = metrics.registry.get_sample_value(
        "logship_input_records_unrouted_total", {"input": "web"}
    )
    assert unrouted == 2
    batch = queue.take(100, 1 << 20, 0)
    assert batch is not None
    assert batch.entries == [{"lvl": "error"}]
    assert acks.watermark("f") == 0, "owed by the one sink that got a record"
    acks.ack(batch.tickets)
    assert acks.watermark("f") == 30
    ship_routed(acks, "f", Lines(end=40, starts=[30]), [{"lvl": "info"}], routes, False, counter)
    assert acks.watermark("f") == 40, "a chunk no sink takes is acknowledged at once"


def config_error(tmp_path: Path, doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path / "bad.yaml", doc))
    return str(info.value)


def test_an_input_naming_an_unknown_sink_is_refused_with_the_key(tmp_path: Path) -> None:
    doc = routing_doc(tmp_path)
    doc["inputs"][0]["sinks"] = ["errors", "kafak"]
    message = config_error(tmp_path, doc)
    assert "inputs[0].sinks[1]: unknown sink 'kafak'" in message


def test_a_when_that_is_not_a_condition_is_refused_with_the_key(tmp_path: Path) -> None:
    doc = routing_doc(tmp_path)
    doc["sinks"][1]["when"] = {"field": "lvl", "inn": ["error"]}
    message = config_error(tmp_path, doc)
    assert "sinks[1].when" in message


def test_check_warns_about_a_sink_no_input_routes_to(tmp_path: Path) -> None:
    doc = routing_doc(tmp_path)
    doc["inputs"][1]["sinks"] = ["errors"]  # now nothing routes to `all`
    result = run_cli("check", "-c", str(write_config(tmp_path / "agent.yaml", doc)))
    assert result.returncode == 0, result.stderr
    assert "sinks[0] (all): no input routes to it" in result.stdout
