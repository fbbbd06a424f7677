"""Proof: disk trouble under the agent is reported clearly and costs no line, nor the registry.

- The checkpoint file truncated or corrupt at start: the agent says so, uses the last good copy
  (`registry.json.bak`, one checkpoint older), loses nothing and repairs the registry.
- The data folder full, or read-only, while running: each failed checkpoint write is logged and
  counted, the registry on disk stays the last good one (never torn), shipping goes on, and the
  checkpoints catch up once the folder is writable again; a crash meanwhile only re-sends.
  At start, a read-only data folder is refused with a message naming agent.data_dir; a full
  one is not (the lock file needs no space, and the disk may free up): the agent runs and
  reports each failed checkpoint write until there is room.
- The output file sink's disk full: the sink retries ("disk full writing ..."), a batch
  written in part is rolled back, and once there is room every record is there exactly once.

The folders that fill up are small file systems of their own (tmpfs, mounted as root); where
mounting is not allowed these tests skip, and the in-process tests at the end inject the
errors instead.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.state.checkpoint import CheckpointError, CheckpointStore, FileCheckpoint
from tests.harness import AgentProcess, count_lines, read_ndjson, run_cli, wait_until, write_config
from tests.prove.endpoint import base_url, scrape, value
from tests.prove.ledger import RULE
from tests.prove.small_disk import SmallDisk

PAD = "p" * 50


def append(log: Path, start: int, count: int) -> None:
    with log.open("a") as f:
        f.write("".join(f"line {n} {PAD}\n" for n in range(start, start + count)))


def config(root: Path, data_dir: Path, out: Path, **agent: Any) -> Path:
    (root / "logs").mkdir(exist_ok=True)
    return write_config(
        root / "agent.yaml",
        {
            "agent": {
                "data_dir": str(data_dir),
                "checkpoint_interval": "100ms",
                "workers": 1,
                "http": {"address": "127.0.0.1:0"},
                **agent,
            },
            "inputs": [
                {
                    "name": "app",
                    "paths": [str(root / "logs" / "*.log")],
                    "parsers": ["numbered"],
                    "poll_interval": "50ms",
                }
            ],
            "parsers": [RULE],
            "sinks": [
                {
                    "name": "out",
                    "type": "file",
                    "path": str(out),
                    "batch": {"max_events": 2000, "linger_ms": 10},
                    "retry": {"initial_backoff": "50ms", "max_backoff": "500ms"},
                }
            ],
        },
    )


def numbers(out: Path) -> list[int]:
    return [r["n"] for r in read_ndjson(out)]


def checkpoint(data_dir: Path, log: Path) -> int:
    try:
        entries = CheckpointStore(data_dir).load()
    except CheckpointError:
        return -1
    key = f"{log.stat().st_dev}:{log.stat().st_ino}"
    return entries[key].offset if key in entries else 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "disk", "16m").mount()
    yield disk
    disk.unmount()


# --- a corrupt registry at start ---------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.write_bytes(b""), "is corrupt (not valid JSON"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "is corrupt"),
        (lambda p: p.write_bytes(b"\x00" * 64), "is corrupt"),
        (lambda p: p.unlink(), "is missing"),
    ],
    ids=["empty", "torn-in-half", "zeroed", "missing"],
)
def test_a_damaged_registry_at_start_is_reported_and_the_last_good_copy_loses_nothing(
    tmp_path: Path, agents: list[AgentProcess], damage: Any, problem: str
) -> None:
    data, out, log = (
        tmp_path / "data",
        tmp_path / "out" / "logs.ndjson",
        tmp_path / "logs" / "a.log",
    )
    path = config(tmp_path, data, out)
    append(log, 0, 5000)
    agent = AgentProcess(path).start()
    agents.append(agent)
    wait_until(lambda: count_lines(out) >= 5000, message="the first lines")
    wait_until(lambda: checkpoint(data, log) == log.stat().st_size, message="their checkpoint")
    append(log, 5000, 5000)
    wait_until(lambda: count_lines(out) >= 10_000, message="more lines")
    assert agent.stop() == 0
    assert (data / "registry.json.bak").exists()
    damage(data / "registry.json")
    append(log, 10_000, 5000)
    agent.start()
    recovered = agent.wait_for_log(
        "Checkpoint file unusable; using the last good copy (at most one checkpoint older)."
    )
    assert problem in recovered["problem"]
    assert str(data / "registry.json") in recovered["problem"]
    wait_until(lambda: set(numbers(out)) >= set(range(15_000)), message="every line")
    wait_until(lambda: checkpoint(data, log) == log.stat().st_size, message="a repaired registry")
    assert agent.stop() == 0
    got = numbers(out)
    assert set(got) == set(range(15_000))
    # Re-sent: at most what the last good copy is behind: the lines of one checkpoint.
    assert len(got) - 15_000 <= 5000
    orjson.loads((data / "registry.json").read_bytes())  # valid again


def test_a_damaged_registry_without_a_good_copy_refuses_to_start_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(b'{"version": 1, "files": {"1:2": {"offs')
    (data / "registry.json.bak").write_bytes(b"\x00" * 10)
    result = run_cli("run", "-c", str(config(tmp_path, data, tmp_path / "out.ndjson")))
    assert result.returncode == 1
    assert f"Checkpoint file {data / 'registry.json'} is corrupt" in result.stderr
    assert "The last good copy is unusable too" in result.stderr
    assert "Move it aside" in result.stderr


# --- the data folder full or read-only ----------------------------------------------------


def test_a_read_only_data_folder_is_refused_at_start_naming_the_key(
    tmp_path: Path, small_disk: SmallDisk
) -> None:
    (small_disk.path / "data").mkdir()
    small_disk.read_only()
    data = small_disk.path / "data"
    result = run_cli("run", "-c", str(config(tmp_path, data, tmp_path / "o.ndjson")))
    assert result.returncode == 1
    assert f"agent.data_dir: cannot use {data}: Read-only file system" in result.stderr


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_checkpoint_writes_failing_while_running_keep_the_registry_sound_and_lose_nothing(
    tmp_path: Path, agents: list[AgentProcess], small_disk: SmallDisk, trouble: str
) -> None:
    data = small_disk.path / "data"
    out, log = tmp_path / "out" / "logs.ndjson", tmp_path / "logs" / "a.log"
    path = config(tmp_path, data, out)
    append(log, 0, 5000)
    agent = AgentProcess(path).start()
    agents.append(agent)
    base = base_url(agent)
    wait_until(lambda: checkpoint(data, log) == log.stat().st_size, message="a first checkpoint")
    good = (data / "registry.json").read_bytes()
    if trouble == "full":
        small_disk.fill()
    else:
        small_disk.read_only()
    append(log, 5000, 20_000)
    wait_until(lambda: count_lines(out) >= 25_000, message="shipping goes on")
    failed = agent.wait_for_log("Checkpoint write failed.")
    reason = "No space left on device" if trouble == "full" else "Read-only file system"
    assert f"Cannot write checkpoint file {data / 'registry.json'}: {reason}" in failed["error"]
    wait_until(
        lambda: value(scrape(base), "logship_checkpoint_write_errors_total") >= 3,
        message="failed writes counted",
    )
    assert (data / "registry.json").read_bytes() == good, "the registry must stay as it was"
    assert not (data / "registry.json.tmp").exists()

    # A crash while the folder is unusable: the restart re-sends from the last good checkpoint.
    agent.kill()
    if trouble == "full":
        small_disk.free()
    else:
        small_disk.read_write()
    append(log, 25_000, 5000)
    agent.start()
    wait_until(lambda: set(numbers(out)) >= set(range(30_000)), message="every line")
    wait_until(lambda: checkpoint(data, log) == log.stat().st_size, message="checkpoints again")
    assert agent.stop() == 0
    got = numbers(out)
    assert set(got) == set(range(30_000))
    assert len(got) - 30_000 <= 20_000, "re-sent only what came after the last good checkpoint"


def test_a_data_folder_full_at_start_is_reported_and_checkpoints_begin_once_there_is_room(
    tmp_path: Path, agents: list[AgentProcess], small_disk: SmallDisk
) -> None:
    # The agent starts (its lock file takes no space): the disk may well free up, and a
    # DaemonSet pod that refused would only crash-loop. Each failed write says why.
    data = small_disk.path / "data"
    out, log = tmp_path / "out" / "logs.ndjson", tmp_path / "logs" / "a.log"
    path = config(tmp_path, data, out)
    append(log, 0, 1000)
    data.mkdir()
    small_disk.fill()
    agent = AgentProcess(path).start()
    agents.append(agent)
    failed = agent.wait_for_log("Checkpoint write failed.")
    assert "No space left on device" in failed["error"]
    wait_until(lambda: count_lines(out) >= 1000, message="shipping regardless")
    assert not (data / "registry.json").exists()
    small_disk.free()
    wait_until(lambda: checkpoint(data, log) == log.stat().st_size, message="checkpoints begin")
    assert agent.stop() == 0
    assert numbers(out) == list(range(1000))


# --- the output file sink's disk full -------------------------------------------------------


def test_the_output_disk_full_is_retried_rolled_back_and_nothing_is_lost_or_doubled(
    tmp_path: Path, agents: list[AgentProcess], small_disk: SmallDisk
) -> None:
    out, log = small_disk.path / "logs.ndjson", tmp_path / "logs" / "a.log"
    path = config(tmp_path, tmp_path / "data", out)
    append(log, 0, 1000)
    agent = AgentProcess(path).start()
    agents.append(agent)
    wait_until(lambda: count_lines(out) >= 1000, message="the first lines")
    # Leave less room than one batch: the next write stops half-way (ENOSPC) and is rolled back.
    small_disk.fill(leave=64 * 1024)
    append(log, 1000, 20_000)
    failing = agent.wait_for_log("Sink failing; retrying with backoff.")
    assert failing["reason"] == f"disk full writing {out}"
    stuck = out.read_bytes()
    assert stuck.endswith(b"\n"), "a rolled-back batch leaves no partial record"
    small_disk.free()
    wait_until(lambda: count_lines(out) >= 21_000, timeout=60, message="everything after")
    agent.wait_for_log("Sink recovered.")
    assert agent.stop() == 0
    assert numbers(out) == list(range(21_000)), "each record once, in order"


# --- where no file system can be mounted: injected errors --------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_an_injected_write_error_never_damages_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    first = FileCheckpoint("/var/log/a.log", 100, "ab", 10, 1.0)
    store.save({"1:2": first})
    before = (tmp_path / "registry.json").read_bytes()
    real_write = os.write

    def fail_half_way(fd: int, buffers: Any) -> int:
        real_write(fd, bytes(buffers[0])[:10])
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("logship.core.durable.os.writev", fail_half_way)
    with pytest.raises(
        CheckpointError, match=f"Cannot write checkpoint file .*{os.strerror(code)}"
    ):
        store.save({"1:2": FileCheckpoint("/var/log/a.log", 200, "ab", 10, 2.0)})
    assert (tmp_path / "registry.json").read_bytes() == before
    assert not (tmp_path / "registry.json.tmp").exists()
    monkeypatch.undo()
    assert CheckpointStore(tmp_path).load()["1:2"].offset == 100
    store.save({"1:2": FileCheckpoint("/var/log/a.log", 300, "ab", 10, 3.0)})
    assert CheckpointStore(tmp_path).load()["1:2"].offset == 300
