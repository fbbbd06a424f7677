"""Proof: a record JSON cannot hold (an integer beyond 64 bits) is dead-lettered, never fatal.

Found by the bad-input proof: `types: {n: int}` on a line whose number has 30 digits made a
Python int that orjson refuses to encode. The tailer encodes records for sinks that take NDJSON
right after parsing, so the exception killed the reading thread and the agent stopped, and
after a restart the same line stopped it again: one line could halt shipping for good.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles.es_server import EsServer
from tests.harness import AgentProcess, count_lines, read_ndjson, wait_until, write_config
from tests.prove.ledger import RULE


@pytest.mark.parametrize("sink", ["file", "elasticsearch"])
def test_a_record_with_an_integer_beyond_64_bits_is_dead_lettered_and_the_rest_flows(
    tmp_path: Path, agents: list[AgentProcess], sink: str
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    huge = "123456789012345678901234567890"
    (logs / "app.log").write_text(
        "".join(f"line {i} ok\n" for i in range(100))
        + f"line {huge} too big\n"
        + "".join(f"line {i} ok\n" for i in range(100, 200))
    )
    out = tmp_path / "out" / "logs.ndjson"
    with EsServer() as server:
        sinks = {
            "file": {"name": "out", "type": "file", "path": str(out), "batch": {"linger_ms": 10}},
            "elasticsearch": {"name": "out", "type": "elasticsearch", "hosts": [server.url]},
        }
        config = write_config(
            tmp_path / "agent.yaml",
            {
                "agent": {
                    "data_dir": str(tmp_path / "data"),
                    "workers": 1,
                    "http": {"address": None},
                },
                "inputs": [
                    {"name": "app", "paths": [str(logs / "*.log")], "parsers": ["numbered"]}
                ],
                "parsers": [RULE],
                "sinks": [sinks[sink]],
            },
        )
        agent = AgentProcess(config).start()
        agents.append(agent)
        dead = tmp_path / "data" / "dead-letter" / "out.jsonl"
        wait_until(lambda: count_lines(dead) == 1, message="the unencodable record dead-lettered")
        if sink == "file":
            wait_until(lambda: count_lines(out) == 200, message="every other record")
            shipped = sorted(r["n"] for r in read_ndjson(out))
        else:
            wait_until(lambda: server.state.count() == 200, message="every other record")
            shipped = sorted(doc["n"] for _, _, doc in server.state.all_sources())
        assert agent.running(), agent.stderr_text()[-2000:]
        assert agent.stop() == 0
    assert shipped == list(range(200))
    (letter,) = read_ndjson(dead)
    assert huge in str(letter["record"])
    assert "64-bit" in letter["reason"]
