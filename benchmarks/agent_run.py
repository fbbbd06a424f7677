"""Running the agent as a measured process: wall time, CPU seconds, peak RSS, page faults.

Shared by the benchmark scenarios and the peer comparison (rsyslog and syslog-ng are measured
the same way). CPU and memory figures come from /proc of the measured process, read just before
it is stopped: start-up is included, shutdown and the harness are not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from logship.state.checkpoint import CheckpointError
from logship.state.shard import read_all

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.nginx_log import NGINX_RULE  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Measurement:
    """What one run cost."""

    name: str
    lines: int
    input_bytes: int
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mib: float
    minor_faults: int
    threads: dict[str, float] = field(default_factory=dict)
    """CPU seconds per named thread (agent runs only)."""
    steady_lines_per_s: float = 0.0
    """Lines/s from a quarter of the way to the end: the rate once running, without start-up
    (0 when the run was too short to tell)."""

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds."""
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def lines_per_s(self) -> float:
        """Throughput over wall time."""
        return self.lines / self.wall_s

    @property
    def mib_per_s(self) -> float:
        """Input MiB per wall second."""
        return self.input_bytes / 2**20 / self.wall_s

    @property
    def lines_per_cpu_s(self) -> float:
        """Lines per CPU-second: the efficiency figure that compares across noisy runs."""
        return self.lines / self.cpu_s

    def row(self) -> str:
        """One line of the results table (plus a line of CPU per thread when known)."""
        threads = ""
        if self.threads:
            busy = sorted(self.threads.items(), key=lambda kv: -kv[1])
            threads = "\n    cpu by thread: " + ", ".join(
                f"{k} {v:.2f}s" for k, v in busy if v >= 0.01
            )
        return (
            f"{self.name:<28} {self.lines:>9,} {self.wall_s:>7.2f} {self.lines_per_s:>10,.0f} "
            f"{self.mib_per_s:>7.1f} {self.cpu_user_s:>6.2f} {self.cpu_sys_s:>6.2f} "
            f"{self.lines_per_cpu_s:>10,.0f} {self.peak_rss_mib:>7.1f} {self.minor_faults:>9,}"
        ) + threads


HEADER = (
    f"{'scenario':<28} {'lines':>9} {'wall s':>7} {'lines/s':>10} {'MiB/s':>7} {'user s':>6} "
    f"{'sys s':>6} {'lines/cpu-s':>10} {'RSS MiB':>7} {'minflt':>9}"
)


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants (an agent with `workers: N` is a supervisor plus N workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += parents.get(current, [])
    return tree


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + sys) per thread name over the process tree; same names are summed."""
    out: dict[str, float] = {}
    for member in process_tree(pid):
        try:
            tasks = list(Path(f"/proc/{member}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def proc_stats(pid: int) -> tuple[float, float, int, float]:
    """(user s, sys s, minor faults, peak RSS MiB) of a live process and its descendants.

    The peak RSS is the sum of each process's own peak: an upper bound of the tree's peak.
    """
    user = system = rss = 0.0
    minflt = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        minflt += int(fields[7])
        user += int(fields[11]) / CLK_TCK
        system += int(fields[12]) / CLK_TCK
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                rss += int(line.split()[1]) / 1024
    return user, system, minflt, rss


class LineCounter:
    """Counts newlines of a growing file incrementally (reads only what was appended)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def poll(self) -> int:
        """The number of complete lines now."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                while chunk := f.read(1 << 22):
                    self.lines += chunk.count(b"\n")
                    self.offset += len(chunk)
        except FileNotFoundError:
            pass
        return self.lines


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    """Writes an agent config."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def agent_doc(
    work: Path,
    paths: list[str],
    sink: dict[str, Any],
    parsers: list[dict[str, Any]] | None = None,
    input_options: dict[str, Any] | None = None,
    **agent: Any,
) -> dict[str, Any]:
    """The config every scenario starts from: one input through `parsers` (default: the nginx
    rule) to one sink named `out`; state in `work/data`, warnings-only self-logs."""
    rules = [NGINX_RULE] if parsers is None else parsers
    return {
        "agent": {"data_dir": str(work / "data"), "log_level": "warning", **agent},
        "inputs": [
            {
                "name": "bench",
                "paths": paths,
                "parsers": [rule["name"] for rule in rules],
                **(input_options or {}),
            }
        ],
        "parsers": rules,
        "sinks": [{"name": "out", **sink}],
    }


class RegistryProgress:
    """Bytes acknowledged by every sink, from the agent's checkpoint file (for sinks without an
    output to count, like `null`). Use a short `checkpoint_interval` with it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def poll(self) -> int:
        """The sum of the checkpointed offsets of every file (any registry layout: workers too)."""
        try:
            return sum(cp.offset for cp in read_all(self.data_dir).values())
        except CheckpointError:
            return 0


def measure_process(
    name: str,
    argv: list[str],
    lines: int,
    input_bytes: int,
    done: Callable[[], int],
    target: int | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    named_threads: bool = False,
) -> Measurement:
    """Starts `argv` and waits until `done()` reaches `target` (default: `lines`).

    Wall time runs from the start to that moment; CPU (all threads), peak RSS and minor faults
    are read from /proc just before the process is stopped with SIGTERM, so start-up counts
    and shutdown does not. The same measure serves the agent and the peer shippers. Raises if
    the process exits early or the target is not reached in time.
    """
    goal = lines if target is None else target
    log = (log_path or Path(os.devnull)).open("wb")
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    started = time.monotonic()
    where = f"; see {log_path}" if log_path else ""
    quarter: tuple[float, int] | None = None  # (time, progress) when a quarter was done
    try:
        while True:
            count = done()
            if quarter is None and count >= goal / 4:
                quarter = (time.monotonic(), count)
            if count >= goal:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{name}: exited early with {proc.returncode}{where}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(
                    f"{name}: only {count:,} of {goal:,} after {timeout:.0f}s{where}"
                )
            time.sleep(0.02)
        now = time.monotonic()
        wall = now - started
        steady = 0.0
        if quarter is not None and now - quarter[0] > 0.2 and count > quarter[1]:
            steady = lines * (count - quarter[1]) / goal / (now - quarter[0])
        user, system, minflt, rss = proc_stats(proc.pid)
        threads = thread_cpu(proc.pid) if named_threads else {}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return Measurement(name, lines, input_bytes, wall, user, system, rss, minflt, threads, steady)


def run_agent(
    name: str,
    config: Path,
    expected_lines: int,
    input_bytes: int,
    done: Callable[[], int],
    timeout: float = 600,
    env: dict[str, str] | None = None,
    target: int | None = None,
) -> Measurement:
    """Runs `logship run -c config` until `done()` reaches `target` (default: expected_lines).

    Returns the measurement (with CPU per named thread); raises if the agent exits early or the
    lines do not arrive in time. Its self-logs go to `<config>.stderr.log`.
    """
    return measure_process(
        name,
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        expected_lines,
        input_bytes,
        done,
        target=target,
        timeout=timeout,
        env=env,
        log_path=config.with_suffix(".stderr.log"),
        named_threads=True,
    )
