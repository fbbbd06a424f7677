"""Start-up cost: CPU of each agent process from its start until it is ready, and of a whole
start-to-exit run, on empty inputs.

    python benchmarks/startup.py [--rounds N] [--workers N] [--sink file|null]

The agent tails empty files (one per worker) into a file or null sink, its HTTP endpoint on a
free port. Per round: start it, wait until every process logged "Agent started." (each worker
does), read each process's CPU from /proc (supervisor, workers), stop it with SIGTERM and take
the CPU of the whole run from the exit (children's rusage). Medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import CLK_TCK, process_tree, write_config


def _cpu(pid: int) -> float | None:
    """User + system CPU seconds of one live process (its threads included); None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # a short-lived helper (ldconfig, run by ctypes.util.find_library)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _parent(pid: int) -> int | None:
    """The parent pid (None if gone): workers are the supervisor's children, their own
    short-lived helpers (ldconfig) are not."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def one_round(work: Path, workers: int, sink: str) -> tuple[float, list[float], float]:
    """(supervisor CPU s at ready, each worker's CPU s at ready, CPU s of the whole run)."""
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    for index in range(workers):
        (logs / f"empty-{index}.log").touch()
    target = (
        {"type": "file", "path": str(work / "out.ndjson")} if sink == "file" else {"type": sink}
    )
    doc = {
        "agent": {
            "data_dir": str(work / "data"),
            "log_level": "info",
            "workers": workers,
            "http": {"address": "127.0.0.1:0"},
        },
        "inputs": [{"name": "app", "paths": [str(logs / "*.log")], "parsers": ["nginx_access"]}],
        "sinks": [{"name": "out", **target}],
    }
    config = write_config(work / "agent.yaml", doc)
    stderr = (work / "stderr.log").open("wb")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    deadline = time.monotonic() + 60
    try:
        while (work / "stderr.log").read_bytes().count(b"Agent started.") < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start; see {work / 'stderr.log'}")
            time.sleep(0.01)
        workers = [pid for pid in process_tree(proc.pid) if _parent(pid) == proc.pid]
        supervisor = _cpu(proc.pid) or 0.0
        children = [c for pid in workers if (c := _cpu(pid)) is not None]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        stderr.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return supervisor, children, total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sink", choices=["file", "null"], default="file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logship-startup-"))
    sup: list[float] = []
    wrk: list[float] = []
    total: list[float] = []
    try:
        for _ in range(args.rounds):
            s, w, t = one_round(work / "run", args.workers, args.sink)
            sup.append(s)
            wrk += w
            total.append(t)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    role = "supervisor" if args.workers > 1 else "agent"
    print(f"workers: {args.workers}, sink: {args.sink}, rounds: {args.rounds} (medians, CPU s)")
    print(f"  {role} at ready: {statistics.median(sup):.3f}  (min {min(sup):.3f})")
    if wrk:
        print(f"  each worker at ready: {statistics.median(wrk):.3f}  (min {min(wrk):.3f})")
    print(f"  whole run, start to exit: {statistics.median(total):.3f}  (min {min(total):.3f})")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
