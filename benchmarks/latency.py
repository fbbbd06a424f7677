"""Latency: how long until a written line is in the output, busy and quiet; and idle CPU.

    python benchmarks/latency.py [rate|quiet|idle|all] [--rate 10000] [--seconds 30]
                                 [--files 200] [--quiet 20] [--idle-files 1000] [--keep]

Three measurements (`all`, the default, runs them in this order):

- `rate`: a steady writer, below.
- `quiet`: lines appended to files that have been quiet for `--quiet` seconds (20): `--files`
  files (200) each get a line, then nothing for 20 s, then one line each, spread evenly over
  the next 20 s, twice (400 lines, each in a file quiet for 20 s before it). Agent defaults,
  `workers: 1`, file sink. Reports p50 / p90 / p99 / max and the agent's CPU meanwhile.
- `idle`: the agent's CPU with `--idle-files` quiet files (1,000) open, over 30 s, once every
  file has been read and left alone for 20 s (so their polls have backed off to the idle rate).

The agent (defaults: inotify wake-ups, `linger_ms` 200, file sink fsyncing every batch) tails a
file that a writer thread appends to in ticks of 10 ms (100 lines per tick at 10,000 lines/s,
scheduled on absolute times so the rate does not drift). Each line carries its write time
(wall clock, ns); a reader thread polls the output file every 2 ms and takes, per record,
the time it saw the record minus the time embedded in it. A record in the output file was
written and fsynced by the sink, so this is "line written -> acknowledged by the sink" up to
the reader's poll (2 ms). A first line is waited for before the clock starts, so the agent's
start-up is not counted. Reports p50 / p90 / p99 / max and the agent's CPU at that rate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import (
    REPO,
    Measurement,
    agent_doc,
    proc_stats,
    process_tree,
    thread_cpu,
    write_config,
)
from benchmarks.nginx_log import OUT
from benchmarks.report import Report

LATENCY_RULE = {
    "name": "stamped",
    "regex": r"^(?P<seq>\d+) (?P<sent_ns>\d+) (?P<pad>.*)$",
    "types": {"seq": "int", "sent_ns": "int"},
}
PAD = "GET /api/v1/orders?page=2&sort=desc HTTP/1.1 200 1234 Mozilla/5.0 (X11; Linux x86_64)"


class OutputWatcher(threading.Thread):
    """Tails the output file; records the latency of every record with a `sent_ns` field."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="latency-reader", daemon=True)
        self.path = path
        self.latencies_ns: list[int] = []
        self.records = 0
        self.stop = threading.Event()

    def run(self) -> None:
        offset = 0
        rest = b""
        while not self.stop.is_set():
            try:
                with self.path.open("rb") as f:
                    f.seek(offset)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            if data:
                now = time.time_ns()
                offset += len(data)
                data = rest + data
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                for line in data[:cut].splitlines():
                    record = orjson.loads(line)
                    self.records += 1
                    if record.get("seq", 0) > 0:
                        self.latencies_ns.append(now - record["sent_ns"])
            time.sleep(0.002)


def write_at_rate(path: Path, rate: int, seconds: float, tick: float = 0.01) -> int:
    """Appends `rate` lines per second for `seconds`; returns the lines written (seq 1..n)."""
    per_tick = max(1, round(rate * tick))
    ticks = round(seconds / tick)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    seq = 0
    start = time.monotonic()
    try:
        for k in range(ticks):
            delay = start + k * tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stamp = time.time_ns()
            os.write(
                fd, "".join(f"{seq + i + 1} {stamp} {PAD}\n" for i in range(per_tick)).encode()
            )
            seq += per_tick
    finally:
        os.close(fd)
    return seq


def percentile(sorted_values: list[int], fraction: float) -> float:
    """The value at `fraction` (nearest rank) of a sorted list, in ms."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index] / 1e6


def run(
    rate: int = 10_000,
    seconds: float = 30.0,
    keep: bool = False,
    input_options: dict[str, Any] | None = None,
    sink_options: dict[str, Any] | None = None,
) -> Report:
    """Scenario `latency`, steady writer (agent defaults unless options are given)."""
    work = OUT / "latency"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    log = work / "logs" / "app.log"
    out = work / "agent.ndjson"
    doc = agent_doc(
        work,
        [str(work / "logs" / "*.log")],
        {"type": "file", "path": str(out), **(sink_options or {})},
        [LATENCY_RULE],
        input_options,
    )
    config = write_config(work / "agent.yaml", doc)
    watcher = OutputWatcher(out)
    watcher.start()
    stderr = config.with_suffix(".stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=REPO,
    )
    report = Report(
        "latency",
        f"line written -> in the file sink's output, {rate:,} lines/s for {seconds:.0f} s",
    )
    try:
        log.write_text(f"0 {time.time_ns()} warm-up\n")
        deadline = time.monotonic() + 60
        while watcher.records < 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"latency: the agent did not start; see {stderr.name}")
            time.sleep(0.01)
        user0, sys0, _, _ = proc_stats(proc.pid)
        started = time.monotonic()
        written = write_at_rate(log, rate, seconds)
        deadline = time.monotonic() + 60
        while watcher.records < written + 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"latency: only {watcher.records - 1:,} of {written:,} records arrived"
                )
            time.sleep(0.01)
        wall = time.monotonic() - started
        user1, sys1, minflt, rss = proc_stats(proc.pid)
    finally:
        watcher.stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        stderr.close()
    watcher.join(5)
    report.measurements.append(
        Measurement(
            f"agent at {rate:,} lines/s",
            written,
            log.stat().st_size,
            wall,
            user1 - user0,
            sys1 - sys0,
            rss,
            minflt,
        )
    )
    values = sorted(watcher.latencies_ns)
    report.notes.append(f"latency over {len(values):,} lines at {rate:,}/s: {summary(values)}")
    cpu = (user1 - user0) + (sys1 - sys0)
    report.notes.append(f"agent CPU while writing: {cpu / wall:.1%} of a core (start-up excluded)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def quiet(
    files: int = 200,
    quiet_s: float = 20.0,
    rounds: int = 2,
    keep: bool = False,
    input_options: dict[str, Any] | None = None,
    sink_options: dict[str, Any] | None = None,
) -> tuple[Measurement, list[str]]:
    """One line at a time into files quiet for `quiet_s`: write -> output latency and CPU."""
    work = OUT / "latency-quiet"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    logs = [work / "logs" / f"quiet-{n:04}.log" for n in range(files)]
    out = work / "agent.ndjson"
    doc = agent_doc(
        work,
        [str(work / "logs" / "*.log")],
        {"type": "file", "path": str(out), **(sink_options or {})},
        [LATENCY_RULE],
        input_options,
        workers=1,
        max_open_files=files + 10,
    )
    config = write_config(work / "agent.yaml", doc)
    watcher = OutputWatcher(out)
    watcher.start()
    stderr = config.with_suffix(".stderr.log").open("wb")
    for path in logs:
        path.write_text(f"0 {time.time_ns()} warm-up\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=REPO,
    )
    written = 0
    try:
        wait_for(watcher, files, proc, stderr.name)
        time.sleep(quiet_s)  # every file quiet for quiet_s before its next line
        user0, sys0, _, _ = proc_stats(proc.pid)
        threads0 = thread_cpu(proc.pid)
        started = time.monotonic()
        gap = quiet_s / files
        for k in range(rounds * files):
            delay = started + k * gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with logs[k % files].open("a") as f:
                f.write(f"{k + 1} {time.time_ns()} {PAD}\n")
            written += 1
        wait_for(watcher, files + written, proc, stderr.name)
        wall = time.monotonic() - started
        user1, sys1, minflt, rss = proc_stats(proc.pid)
        threads1 = thread_cpu(proc.pid)
    finally:
        watcher.stop.set()
        stop(proc)
        stderr.close()
    watcher.join(5)
    values = sorted(watcher.latencies_ns)
    measurement = Measurement(
        f"{files} files quiet {quiet_s:.0f} s",
        written,
        written * 100,
        wall,
        user1 - user0,
        sys1 - sys0,
        rss,
        minflt,
        {name: threads1[name] - threads0.get(name, 0.0) for name in threads1},
    )
    cpu = (user1 - user0) + (sys1 - sys0)
    notes = [
        f"a line into a file quiet for {quiet_s:.0f} s, {len(values):,} lines: "
        f"{summary(values)}; agent CPU {cpu / wall:.1%} of a core"
    ]
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return measurement, notes


def idle(
    files: int = 1000, settle_s: float = 20.0, seconds: float = 30.0, keep: bool = False
) -> tuple[Measurement, list[str]]:
    """The agent's CPU with `files` quiet files open, after `settle_s` of quiet."""
    work = OUT / "latency-idle"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    for n in range(files):
        (work / "logs" / f"quiet-{n:04}.log").write_text(f"0 {time.time_ns()} file {n}\n")
    out = work / "agent.ndjson"
    doc = agent_doc(
        work,
        [str(work / "logs" / "*.log")],
        {"type": "file", "path": str(out)},
        [LATENCY_RULE],
        workers=1,
        max_open_files=files + 10,
    )
    config = write_config(work / "agent.yaml", doc)
    watcher = OutputWatcher(out)
    watcher.start()
    stderr = config.with_suffix(".stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=REPO,
    )
    try:
        wait_for(watcher, files, proc, stderr.name)
        time.sleep(settle_s)  # let every file's poll back off to its idle rate
        user0, sys0, _, _ = proc_stats(proc.pid)
        threads0 = thread_cpu(proc.pid)
        time.sleep(seconds)
        user1, sys1, minflt, rss = proc_stats(proc.pid)
        threads1 = thread_cpu(proc.pid)
        fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in process_tree(proc.pid))
    finally:
        watcher.stop.set()
        stop(proc)
        stderr.close()
    watcher.join(5)
    cpu = (user1 - user0) + (sys1 - sys0)
    measurement = Measurement(
        f"idle, {files:,} quiet files",
        0,
        0,
        seconds,
        user1 - user0,
        sys1 - sys0,
        rss,
        minflt,
        {name: threads1[name] - threads0.get(name, 0.0) for name in threads1},
    )
    notes = [
        f"idle agent, {files:,} quiet files open ({fds} descriptors): {cpu:.2f} CPU-s in "
        f"{seconds:.0f} s = {cpu / seconds:.2%} of a core"
    ]
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return measurement, notes


def wait_for(watcher: OutputWatcher, records: int, proc: subprocess.Popen[bytes], log: str) -> None:
    """Waits until the output holds `records` records; raises if the agent dies or stalls."""
    deadline = time.monotonic() + 120
    while watcher.records < records:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"latency: {watcher.records:,} of {records:,} records arrived; see {log}"
            )
        time.sleep(0.01)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then waits for the agent to exit."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def summary(values: list[int]) -> str:
    """p50 / p90 / p99 / max of latencies in ns, as text in ms."""
    if not values:
        return "no lines"
    return (
        f"p50 {percentile(values, 0.5):.0f} ms, p90 {percentile(values, 0.9):.0f} ms, "
        f"p99 {percentile(values, 0.99):.0f} ms, max {values[-1] / 1e6:.0f} ms"
    )


def run_all(seconds: float = 30.0, keep: bool = False, quick: bool = False) -> Report:
    """Scenario `latency` of the suite: steady writer, quiet files, idle CPU (in that order)."""
    report = run(10_000, seconds, keep)
    report.title = "line written -> in the file sink's output (steady, quiet files); idle CPU"
    row, notes = quiet(files=100 if quick else 200, rounds=1 if quick else 2, keep=keep)
    report.measurements.append(row)
    report.notes += notes
    row, notes = idle(seconds=10.0 if quick else 30.0, keep=keep)
    report.measurements.append(row)
    report.notes += notes
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenario", nargs="?", default="all", choices=["rate", "quiet", "idle", "all"]
    )
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--files", type=int, default=200, help="files of the quiet run")
    parser.add_argument("--quiet", type=float, default=20.0, help="seconds of quiet per file")
    parser.add_argument("--rounds", type=int, default=2, help="lines per file in the quiet run")
    parser.add_argument("--idle-files", type=int, default=1000, help="files of the idle run")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder in benchmarks/out"
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=YAML",
        help="an input option to change, e.g. --input poll_interval=100ms",
    )
    parser.add_argument(
        "--sink",
        action="append",
        default=[],
        metavar="KEY=YAML",
        help="a file sink option to change, e.g. --sink batch.linger_ms=20 (one level of dots)",
    )
    args = parser.parse_args()
    inputs = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.input)}
    sink: dict[str, Any] = {}
    for key, value in (o.split("=", 1) for o in args.sink):
        head, _, rest = key.partition(".")
        if rest:
            sink.setdefault(head, {})[rest] = yaml.safe_load(value)
        else:
            sink[head] = yaml.safe_load(value)
    report = Report("latency", "line written -> in the file sink's output; idle CPU")
    if args.scenario in ("rate", "all"):
        report = run(args.rate, args.seconds, args.keep, inputs, sink)
    if args.scenario in ("quiet", "all"):
        row, notes = quiet(args.files, args.quiet, args.rounds, args.keep, inputs, sink)
        report.measurements.append(row)
        report.notes += notes
    if args.scenario in ("idle", "all"):
        row, notes = idle(args.idle_files, keep=args.keep)
        report.measurements.append(row)
        report.notes += notes
    print(report.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
