"""`workers: N`: worker processes owning shards of the files, supervised, with merged registries."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from logship.app.federation import merge_metrics
from logship.state.checkpoint import CheckpointStore, FileCheckpoint
from logship.state.shard import Shard, consolidate, read_all, registry_files
from logship.tail.identity import FileIdentity
from tests.harness import (
    REPO,
    AgentProcess,
    config_doc,
    count_lines,
    read_ndjson,
    wait_until,
    write_config,
)
from tests.prove.process_tree import children


def make_config(tmp_path: Path, workers: int | str, **agent: Any) -> Path:
    doc = config_doc(tmp_path, agent={"workers": workers, "http": {"address": None}, **agent})
    return write_config(tmp_path / f"agent-{workers}.yaml", doc)


def write_files(tmp_path: Path, files: int, start: int, count: int) -> None:
    for f in range(files):
        write_file(tmp_path, f, start, count)


def write_file(tmp_path: Path, f: int, start: int, count: int) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    path = logs / f"f{f}.log"
    with path.open("a") as out:
        out.write("".join(f"f{f} {i} {'x' * 40}\n" for i in range(start, start + count)))
    return path


def write_files_for_both_workers(tmp_path: Path, files: int, count: int) -> int:
    """`files` files, more if needed until each of two workers owns one; returns how many.

    Files go to workers by a hash of device:inode, so a handful can all land in one."""
    owners = {
        Shard(0, 2).owns(FileIdentity.of(write_file(tmp_path, f, 0, count).stat()).key)
        for f in range(files)
    }
    while len(owners) < 2:
        owners.add(
            Shard(0, 2).owns(FileIdentity.of(write_file(tmp_path, files, 0, count).stat()).key)
        )
        files += 1
    return files


def shipped(tmp_path: Path) -> list[str]:
    return [
        " ".join(r["message"].split()[:2]) for r in read_ndjson(tmp_path / "out" / "logs.ndjson")
    ]


def expected(files: int, total: int) -> list[str]:
    return [f"f{f} {i}" for f in range(files) for i in range(total)]


def test_shards_split_files_stably_and_completely() -> None:
    keys = [f"2049:{n}" for n in range(1000)]
    owners = [[Shard(i, 3).owns(k) for i in range(3)] for k in keys]
    assert all(sum(o) == 1 for o in owners), "every file has exactly one owner"
    counts = [sum(o[i] for o in owners) for i in range(3)]
    assert min(counts) > 250, counts
    assert all(Shard(0, 1).owns(k) for k in keys)


def test_files_created_together_spread_over_two_workers() -> None:
    """Consecutive inodes (files created one after the other) fall into each worker about
    evenly, in pairs too: with crc32 two such files shared a worker three times in four."""
    keys = [f"2049:{n}" for n in range(100_000, 102_000)]
    together = sum(Shard(0, 2).owns(a) == Shard(0, 2).owns(b) for a, b in itertools.pairwise(keys))
    assert 0.4 < together / (len(keys) - 1) < 0.6, together


def test_entries_in_the_wrong_workers_registry_are_moved_to_their_owner(tmp_path: Path) -> None:
    """A registry written by a version that assigned files differently is re-split at start,
    so no worker starts a file it owns without the checkpoint another worker's file holds."""
    keys = [f"1:{n}" for n in range(40)]
    cp = FileCheckpoint("/log", 7, "fp", 10, 1.0, 1.0)
    half = len(keys) // 2
    CheckpointStore(tmp_path, "registry.worker-0-of-2.json").save(dict.fromkeys(keys[:half], cp))
    CheckpointStore(tmp_path, "registry.worker-1-of-2.json").save(dict.fromkeys(keys[half:], cp))
    consolidate(tmp_path, 2)
    for i in range(2):
        shard = Shard(i, 2)
        held = CheckpointStore(tmp_path, shard.registry_name).load()
        assert held, "each worker owns some of 40 files"
        assert all(shard.owns(k) for k in held)
    assert set(read_all(tmp_path)) == set(keys)


def test_consolidate_rewrites_any_layout_for_the_new_count_keeping_the_latest_entries(
    tmp_path: Path,
) -> None:
    def cp(offset: int, updated: float) -> FileCheckpoint:
        return FileCheckpoint("/log", offset, "fp", 10, updated, updated)

    CheckpointStore(tmp_path, "registry.worker-0-of-2.json").save(
        {"1:1": cp(10, 1.0), "1:2": cp(20, 1.0)}
    )
    CheckpointStore(tmp_path, "registry.worker-1-of-2.json").save({"1:3": cp(30, 1.0)})
    CheckpointStore(tmp_path, "registry.json").save({"1:1": cp(5, 0.5)})  # older leftover
    consolidate(tmp_path, 3)
    assert sorted(p.name for p in registry_files(tmp_path)) == [
        f"registry.worker-{i}-of-3.json" for i in range(3)
    ]
    merged = read_all(tmp_path)
    assert {k: v.offset for k, v in merged.items()} == {"1:1": 10, "1:2": 20, "1:3": 30}
    for i in range(3):
        shard = Shard(i, 3)
        assert all(shard.owns(k) for k in CheckpointStore(tmp_path, shard.registry_name).load())
    consolidate(tmp_path, 3)  # already in this layout: nothing changes
    consolidate(tmp_path, 1)
    assert [p.name for p in registry_files(tmp_path)] == ["registry.json"]
    assert {k: v.offset for k, v in read_all(tmp_path).items()} == {"1:1": 10, "1:2": 20, "1:3": 30}


def test_merged_metrics_label_every_sample_with_its_worker() -> None:
    text0 = b'# HELP x_total X.\n# TYPE x_total counter\nx_total{input="a"} 1.0\ny 2.0\n'
    text1 = b'# HELP x_total X.\n# TYPE x_total counter\nx_total{input="a"} 5.0\n'
    merged = merge_metrics([(0, text0), (1, text1)]).decode().splitlines()
    assert merged == [
        "# HELP x_total X.",
        "# TYPE x_total counter",
        'x_total{worker="0",input="a"} 1.0',
        'y{worker="0"} 2.0',
        'x_total{worker="1",input="a"} 5.0',
    ]


def test_two_workers_ship_every_line_once_and_stop_cleanly(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    files = write_files_for_both_workers(tmp_path, 6, 3000)
    agent = AgentProcess(make_config(tmp_path, 2)).start()
    agents.append(agent)
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) >= files * 3000, timeout=90, message="every line")
    workers = wait_until(
        lambda: children(agent.pid) if len(children(agent.pid)) == 2 else None, message="2 workers"
    )
    assert agent.stop() == 0
    assert sorted(shipped(tmp_path)) == sorted(expected(files, 3000))
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers), (
        "workers exit with the supervisor"
    )
    names = sorted(p.name for p in registry_files(tmp_path / "data"))
    assert names == ["registry.worker-0-of-2.json", "registry.worker-1-of-2.json"]
    sizes = {str(p): p.stat().st_size for p in (tmp_path / "logs").iterdir()}
    assert {cp.path: cp.offset for cp in read_all(tmp_path / "data").values()} == sizes
    started = [e for e in agent.logs() if e.get("message") == "Worker started."]
    assert sorted(e["worker"] for e in started) == [0, 1]


def test_changing_the_number_of_workers_neither_loses_nor_repeats_a_line(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    out = tmp_path / "out" / "logs.ndjson"
    total = 0
    for step, workers in enumerate((2, 1, 3)):
        write_files(tmp_path, 5, total, 2000)
        total += 2000
        agent = AgentProcess(make_config(tmp_path, workers)).start()
        agents.append(agent)
        wait_until(lambda n=total: count_lines(out) >= 5 * n, timeout=90, message=f"step {step}")
        assert agent.stop() == 0
        layout = sorted(p.name for p in registry_files(tmp_path / "data"))
        expected_layout = (
            ["registry.json"]
            if workers == 1
            else [f"registry.worker-{i}-of-{workers}.json" for i in range(workers)]
        )
        # A worker that owns no file has nothing to checkpoint and writes no file; what must
        # never remain is a file of another layout.
        assert layout
        assert set(layout) <= set(expected_layout)
    got = shipped(tmp_path)
    assert len(got) == len(set(got)), "a line was shipped twice"
    assert sorted(got) == sorted(expected(5, total))


def test_a_killed_worker_is_restarted_and_nothing_is_lost(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    write_files(tmp_path, 4, 0, 1000)
    agent = AgentProcess(make_config(tmp_path, 2)).start()
    agents.append(agent)
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) >= 4000, timeout=60, message="first lines")
    first = wait_until(
        lambda: children(agent.pid) if len(children(agent.pid)) == 2 else None, message="2 workers"
    )
    os.kill(first[0], signal.SIGKILL)
    agent.wait_for_log("Worker exited unexpectedly; restarting it.")
    wait_until(
        lambda: len(children(agent.pid)) == 2 and first[0] not in children(agent.pid),
        message="restart",
    )
    write_files(tmp_path, 4, 1000, 1000)
    wait_until(
        lambda: len(set(shipped(tmp_path))) >= 8000, timeout=60, message="lines after the restart"
    )
    assert agent.stop() == 0
    assert set(shipped(tmp_path)) == set(expected(4, 2000))


def test_a_stop_sent_to_every_process_at_once_drains_like_one_sent_to_the_supervisor(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    # systemd's default KillMode=control-group sends SIGTERM to the supervisor and to each
    # worker; the supervisor forwards its own. A worker must not take that as a second stop
    # (which skips the drain and leaves what it holds to be read again), and a second stop
    # sent to the supervisor must still reach the workers as one.
    write_files_for_both_workers(tmp_path, 2, 200_000)
    agent = AgentProcess(make_config(tmp_path, 2)).start()
    agents.append(agent)
    workers = wait_until(
        lambda: children(agent.pid) if len(children(agent.pid)) == 2 else None, message="2 workers"
    )
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) > 0, timeout=60, message="lines flowing")
    for pid in [agent.pid, *workers]:
        os.kill(pid, signal.SIGTERM)
    assert agent.wait(60) == 0
    stopped = [e for e in agent.logs() if e.get("message") == "Agent stopped."]
    assert sorted(e["worker"] for e in stopped) == [0, 1]
    assert all(e["drained"] for e in stopped), stopped
    warnings = [e["message"] for e in agent.logs() if e.get("level") in ("warning", "error")]
    assert not [w for w in warnings if "drain" in w or "timeout" in w.lower()], warnings
    # What was shipped is what the checkpoints cover: a restart repeats nothing.
    offsets = {cp.path: cp.offset for cp in read_all(tmp_path / "data").values()}
    lines = len(shipped(tmp_path))
    assert lines == sum(
        Path(path).read_bytes()[:offset].count(b"\n") for path, offset in offsets.items()
    )


def open_files(pid: int) -> set[str]:
    """What a running process's descriptors point at; one closed between the listing and
    its reading (the worker keeps tailing and checkpointing) is skipped."""
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            continue
    return held


def test_first_workers_are_forked_without_the_supervisors_files_and_a_restart_is_a_new_process(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    """Forked before the supervisor's HTTP thread starts (no interpreter start-up per worker);
    once that thread runs, forking is unsafe: a crashed worker comes back as a new process."""
    write_files(tmp_path, 4, 0, 500)
    agent = AgentProcess(make_config(tmp_path, 2, http={"address": "127.0.0.1:0"})).start()
    agents.append(agent)
    wait_until(lambda: len(set(shipped(tmp_path))) >= 2000, timeout=60, message="first lines")
    first = wait_until(
        lambda: children(agent.pid) if len(children(agent.pid)) == 2 else None, message="2 workers"
    )
    started = [e for e in agent.logs() if e.get("message") == "Worker started."]
    assert [e["forked"] for e in started] == [True, True]
    lock = str(tmp_path / "data" / ".lock")
    for pid in first:
        held = open_files(pid)
        assert lock not in held, "the supervisor's data folder lock leaked into a worker"
        assert len([h for h in held if h.startswith("socket:")]) == 1, "its own endpoint only"
    os.kill(first[0], signal.SIGKILL)
    agent.wait_for_log("Worker exited unexpectedly; restarting it.")
    wait_until(
        lambda: len([e for e in agent.logs() if e.get("message") == "Worker started."]) == 3,
        message="restart",
    )
    restarted = [e for e in agent.logs() if e.get("message") == "Worker started."][-1]
    assert restarted["forked"] is False
    write_files(tmp_path, 4, 500, 500)
    wait_until(
        lambda: len(set(shipped(tmp_path))) >= 4000, timeout=60, message="lines after the restart"
    )
    assert agent.stop() == 0
    assert set(shipped(tmp_path)) == set(expected(4, 1000))


def test_the_supervisor_answers_for_all_workers_on_the_configured_address(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    write_files(tmp_path, 4, 0, 100)
    agent = AgentProcess(make_config(tmp_path, 2, http={"address": "127.0.0.1:0"})).start()
    agents.append(agent)
    line = wait_until(
        lambda: next(
            (
                e
                for e in agent.logs()
                if e.get("message") == "HTTP endpoint listening." and "worker" not in e
            ),
            None,
        ),
        message="the supervisor's endpoint",
    )
    base = f"http://{line['address']}"
    wait_until(
        lambda: count_lines(tmp_path / "out" / "logs.ndjson") >= 400, message="lines shipped"
    )

    def get(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(base + path, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def metrics_ready() -> str | None:
        status, body = get("/metrics")
        text = body.decode()
        return text if status == 200 and 'worker="1"' in text and 'worker="0"' in text else None

    text = wait_until(metrics_ready, message="metrics of both workers")
    lines_read = [
        line for line in text.splitlines() if line.startswith("logship_input_lines_total{")
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in lines_read) == 400
    assert "logship_workers 2" in text
    assert wait_until(lambda: get("/healthz")[0] == 200, message="healthy")
    status = orjson.loads(get("/status")[1])
    assert [w["worker"] for w in status["workers"]] == [0, 1]
    assert agent.stop() == 0


def test_a_worker_whose_supervisor_died_before_it_started_does_not_run_on_its_own(
    tmp_path: Path,
) -> None:
    """The kernel's parent-death signal only covers deaths after the worker asked for it: a
    supervisor killed while its worker was still importing would leave an orphan shipping
    alone for good (seen after a crash-loop kill during start-up)."""
    write_files(tmp_path, 1, 0, 10)
    gone = subprocess.Popen(["true"])
    gone.wait()
    env = {**os.environ, "LOGSHIP_WORKER": "0/2", "LOGSHIP_SUPERVISOR_PID": str(gone.pid)}
    worker = subprocess.run(
        [sys.executable, "-m", "logship", "run", "-c", str(make_config(tmp_path, 2))],
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )
    assert worker.returncode == 1
    assert b"The supervisor is gone; this worker does not start on its own." in worker.stderr
    assert not (tmp_path / "out" / "logs.ndjson").exists(), "nothing shipped"
