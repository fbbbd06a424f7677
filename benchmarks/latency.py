"""Latency: a writer appends at a fixed 10,000 lines/s; how long until each line is in the output?

    python benchmarks/latency.py [--rate 10000] [--seconds 30] [--keep]

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
    """Scenario `latency` (agent defaults unless options are given)."""
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
    report.notes.append(
        f"latency over {len(values):,} lines: p50 {percentile(values, 0.5):.0f} ms, "
        f"p90 {percentile(values, 0.9):.0f} ms, p99 {percentile(values, 0.99):.0f} ms, "
        f"max {values[-1] / 1e6:.0f} ms"
    )
    cpu = (user1 - user0) + (sys1 - sys0)
    report.notes.append(f"agent CPU while writing: {cpu / wall:.1%} of a core (start-up excluded)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second")
    parser.add_argument("--seconds", type=float, default=30.0)
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
    print(run(args.rate, args.seconds, args.keep, inputs, sink).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
