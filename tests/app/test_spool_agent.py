"""A damaged spool never stops the agent: what checks out is delivered, the rest is cut off,
counted and reported; `logship spool` shows each spool and `--verify` finds the damage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logship.app.cli import main
from logship.deliver.spool.frame import HEADER, MAGIC
from logship.deliver.spool.store import SpoolStore
from tests.harness import AgentProcess, read_ndjson, wait_until, write_config

MIB = 1 << 20


def chunk(start: int, n: int) -> bytes:
    return b"".join(b'{"n":%d,"message":"spooled %d"}\n' % (i, i) for i in range(start, start + n))


def agent_doc(tmp_path: Path) -> dict[str, Any]:
    return {
        "agent": {"data_dir": str(tmp_path / "data"), "workers": 1, "http": {"address": None}},
        "inputs": [{"name": "app", "paths": [str(tmp_path / "logs" / "*.log")]}],
        "sinks": [
            {
                "name": "out",
                "type": "file",
                "path": str(tmp_path / "out" / "out.ndjson"),
                "batch": {"linger_ms": 20},
                "spool": {"max_bytes": "4MiB"},
            }
        ],
    }


def damaged_spool(folder: Path) -> None:
    """Two segments of three 10-record frames: the first torn in its third frame (as kill -9
    mid-write leaves it), the second with a flipped byte in its second frame."""
    store = SpoolStore(folder, 4 * MIB)
    store.open()
    for start in (0, 10, 20):
        store.append(chunk(start, 10), 10)
    store.close()  # the next append starts a new segment
    store = SpoolStore(folder, 4 * MIB)
    store.open()
    for start in (30, 40, 50):
        store.append(chunk(start, 10), 10)
    store.close()
    first, second = sorted(folder.glob("*.seg"))
    data = first.read_bytes()
    first.write_bytes(data[: len(data) - 12])
    data = bytearray(second.read_bytes())
    data[len(MAGIC) + HEADER.size + len(chunk(30, 10)) + HEADER.size + 3] ^= 0x01
    second.write_bytes(bytes(data))


def test_a_torn_and_a_corrupt_segment_are_cut_counted_and_the_rest_delivered(
    tmp_path: Path, agents: list[AgentProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").mkdir()
    damaged_spool(tmp_path / "data" / "spool" / "out")
    config = write_config(tmp_path / "agent.yaml", agent_doc(tmp_path))

    assert main(["spool", "-c", str(config), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "torn" in err
    assert "checksum mismatch" in err

    agent = AgentProcess(config).start()
    agents.append(agent)
    out = tmp_path / "out" / "out.ndjson"
    wait_until(lambda: len(read_ndjson(out)) >= 30, timeout=30, message="the good frames")
    damage = [e for e in agent.logs() if e.get("message", "").startswith("Spool damaged")]
    assert len(damage) == 2, agent.stderr_text()
    wait_until(lambda: not list((tmp_path / "data" / "spool" / "out").glob("*.seg")), timeout=10)
    assert agent.stop() == 0
    got = [r["n"] for r in read_ndjson(out)]
    assert got == list(range(20)) + list(range(30, 40)), "in order, up to each cut"

    assert main(["spool", "-c", str(config), "--verify"]) == 0


def test_logship_spool_shows_size_records_oldest_age_and_last_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data" / "spool" / "es"
    store = SpoolStore(folder, 4 * MIB)
    store.open()
    store.append(chunk(0, 25), 25)
    store.append(chunk(25, 5), 5)
    store.failed("no answer from Elasticsearch: connection refused")
    store.close()
    assert main(["spool", "--data-dir", str(tmp_path / "data")]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["SINK", "BYTES", "RECORDS", "OLDEST"]
    assert row.split()[0] == "es"
    assert row.split()[2] == "30"
    assert "connection refused" in row
    assert main(["spool", "--data-dir", str(tmp_path / "data"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (spool,) = doc["spools"]
    assert spool["records"] == 30
    assert spool["bytes"] == sum(p.stat().st_size for p in folder.iterdir())
    assert spool["oldest"] > 0
    assert spool["last_error"].endswith("connection refused")
