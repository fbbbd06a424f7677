"""`logship status`: files, sizes, acknowledged offsets and lag, from the registry on disk."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from logship.app.status import registry_rows, render_table
from logship.state.checkpoint import CheckpointStore, FileCheckpoint
from logship.tail.identity import FileIdentity
from tests.harness import AgentProcess, count_lines, run_cli, wait_until, write_config


def key_of(path: Path) -> str:
    return FileIdentity.of(path.stat()).key


def save(data_dir: Path, entries: dict[str, FileCheckpoint]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    CheckpointStore(data_dir).save(entries)


def checkpoint(path: Path | str, offset: int, updated: float = 0.0) -> FileCheckpoint:
    return FileCheckpoint(str(path), offset, "", 0, updated or time.time())


def test_rows_show_size_now_acked_offset_and_lag_for_every_case(tmp_path: Path) -> None:
    ok = tmp_path / "ok.log"
    ok.write_bytes(b"x" * 1000)
    shrunk = tmp_path / "shrunk.log"
    shrunk.write_bytes(b"x" * 10)
    rotated = tmp_path / "rotated.log"
    rotated.write_bytes(b"old\n")
    rotated_key = key_of(rotated)
    rotated.rename(tmp_path / "rotated.log.1")
    (tmp_path / "rotated.log").write_bytes(b"a different file now\n")
    save(
        tmp_path / "data",
        {
            key_of(ok): checkpoint(ok, 600),
            key_of(shrunk): checkpoint(shrunk, 500),
            rotated_key: checkpoint(rotated, 4),
            "1:2": checkpoint(tmp_path / "gone.log", 77),
        },
    )
    rows = {Path(r.path).name: r for r in registry_rows(tmp_path / "data")}
    assert (rows["ok.log"].state, rows["ok.log"].size, rows["ok.log"].acked_offset) == (
        "ok",
        1000,
        600,
    )
    assert rows["ok.log"].lag == 400
    assert rows["shrunk.log"].state == "truncated"
    assert rows["shrunk.log"].lag == 10  # read again from 0
    assert rows["rotated.log"].state == "replaced"
    assert rows["rotated.log"].lag is None
    assert rows["gone.log"].state == "gone"
    assert rows["gone.log"].size is None


def test_the_table_has_a_header_and_aligned_columns(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"y" * 12345)
    save(tmp_path / "data", {key_of(log): checkpoint(log, 12000, updated=time.time() - 125)})
    table = render_table(registry_rows(tmp_path / "data")).splitlines()
    assert table[0].split() == ["PATH", "SIZE", "ACKED", "LAG", "UPDATED", "STATE"]
    assert table[1].split() == [str(log), "12345", "12000", "345", "2m", "ago", "ok"]
    assert table[0].index("SIZE") + len("SIZE") == table[1].index("12345") + len("12345")


def test_status_without_a_registry_or_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = run_cli("status", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0
    assert "No checkpoints yet" in done.stdout
    done = run_cli("status", "--data-dir", str(tmp_path / "data"), "--json")
    assert orjson.loads(done.stdout)["files"] == []
    done = run_cli("status", "--data-dir", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert "does not exist" in done.stderr


def test_status_reports_a_corrupt_registry(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "registry.json").write_text("{not json")
    done = run_cli("status", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1
    assert "is corrupt" in done.stderr


def test_status_shows_the_offsets_and_lag_of_a_finished_run(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "out.ndjson"
    config = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {
                "data_dir": "data",  # relative to the config file
                "checkpoint_interval": "200ms",
                "http": {"address": None},
            },
            "inputs": [{"name": "app", "paths": [str(logs / "*.log")], "poll_interval": "50ms"}],
            "sinks": [{"name": "out", "type": "file", "path": str(out)}],
        },
    )
    first, second = logs / "a.log", logs / "b.log"
    first.write_text("".join(f"a {i}\n" for i in range(3000)))
    second.write_text("".join(f"b {i}\n" for i in range(500)))
    agent = AgentProcess(config).start()
    agents.append(agent)
    wait_until(lambda: count_lines(out) >= 3500, timeout=60, message="every line shipped")

    def acked_while_running() -> dict[str, dict[str, object]] | None:
        done = run_cli("status", "-c", str(config), "--json")  # the agent holds the data dir lock
        assert done.returncode == 0, done.stderr
        files = {f["path"]: f for f in orjson.loads(done.stdout)["files"]}
        return (
            files if all(f["lag_bytes"] == 0 for f in files.values()) and len(files) == 2 else None
        )

    wait_until(acked_while_running, timeout=30, message="status while running shows lag 0")
    assert agent.stop() == 0

    with first.open("a") as f:
        f.write("written after the agent stopped\n")  # 32 bytes nobody shipped
    done = run_cli("status", "-c", str(config))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    size_a = first.stat().st_size
    assert rows[str(first)][1:4] == [str(size_a), str(size_a - 32), "32"]
    assert rows[str(second)][1:4] == [str(second.stat().st_size)] * 2 + ["0"]
    assert rows[str(first)][-1] == "ok"

    done = run_cli("status", "-c", str(config), "--json")
    doc = orjson.loads(done.stdout)
    assert doc["data_dir"] == str(tmp_path / "data")
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path[str(first)]["acked_offset"] == size_a - 32
    assert by_path[str(first)]["lag_bytes"] == 32
    assert by_path[str(first)]["key"] == key_of(first)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_status_needs_only_read_access_to_the_registry(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"z" * 10)
    data = tmp_path / "data"
    save(data, {key_of(log): checkpoint(log, 10)})
    data.chmod(0o555)  # read-only: no lock file, no temp files
    try:
        done = run_cli("status", "--data-dir", str(data), "--json")
    finally:
        data.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["files"][0]["lag_bytes"] == 0
