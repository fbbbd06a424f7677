"""Soak run: hours of steady load with rotation, sampling the agent's memory and descriptors.

    python benchmarks/soak.py --duration 2h [--rate 5000] [--files 4] [--workers auto]
    python benchmarks/soak.py --duration 10m --sample-every 10s      # the figures in docs/proof.md

A writer appends nginx-like lines to `--files` files at `--rate` lines/s in total and rotates
each file by rename every `--rotate-every` lines, keeping two rotated generations (the oldest
is deleted, as logrotate's `rotate 2` does). The agent (a real `logship run`, with `workers`
as configured: by default several worker processes) tails them through the nginx rule into the
null sink (encoding included), so that the run can last for hours without filling a disk.

Every `--sample-every` seconds it records, for the agent's processes (supervisor and workers):
resident memory, open descriptors and threads, the registry's entries, and the lines written
and delivered. At the end the writer stops, the agent catches up and is stopped gracefully;
the summary compares the first sample after the warm-up with the last one, gives the RSS slope
over the second half of the run (MiB per hour, least squares), and checks that every line
written was delivered. Samples go to a CSV, the summary to JSON, under benchmarks/out/soak/.

Not part of CI (it is a benchmark). A leak shows as a slope that does not flatten; descriptors
must stay flat (open files + a constant), and registry entries bounded by the files kept.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.agent_run import agent_doc, write_config  # noqa: E402
from benchmarks.nginx_log import NGINX_RULE  # noqa: E402
from tests.prove.process_tree import open_fds, rss_bytes, tree  # noqa: E402

MIB = 1 << 20
WARM_UP = 60.0
"""Seconds after the start before the "start" figures are taken (imports, first scans, caches)."""


def duration(text: str) -> float:
    """`90`, `90s`, `10m`, `2h` -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 10m or 2h (got {text!r})")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


class RotatingWriter(threading.Thread):
    """Appends lines at a steady total rate to several files, rotating each by rename."""

    def __init__(self, folder: Path, files: int, rate: float, rotate_every: int) -> None:
        super().__init__(name="soak-writer", daemon=True)
        self.folder = folder
        self.files = files
        self.rate = rate
        self.rotate_every = rotate_every
        self.written = 0
        self.rotations = 0
        self._halt = threading.Event()
        self._since_rotation = [0] * files
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        """The live file `index`."""
        return self.folder / f"access-{index}.log"

    def _rotate(self, index: int) -> None:
        live = self.path(index)
        older, old = Path(f"{live}.2"), Path(f"{live}.1")
        older.unlink(missing_ok=True)
        if old.exists():
            old.rename(older)
        live.rename(old)
        self._since_rotation[index] = 0
        self.rotations += 1

    def run(self) -> None:
        handles = [self.path(i).open("a") for i in range(self.files)]
        started = time.monotonic()
        slice_lines = max(1, round(self.rate / 100))  # 10 ms slices
        n = 0
        try:
            while not self._halt.is_set():
                for _ in range(slice_lines):
                    index = n % self.files
                    handles[index].write(
                        f'10.0.{n % 250}.{n % 199} - - [24/Nov/2026:10:00:00 +0000] "GET /item/{n} '
                        f'HTTP/1.1" 200 {n % 5000} "-" "soak/1.0"\n'
                    )
                    n += 1
                    self._since_rotation[index] += 1
                    if self._since_rotation[index] >= self.rotate_every:
                        handles[index].close()
                        self._rotate(index)
                        handles[index] = self.path(index).open("a")
                for handle in handles:
                    handle.flush()
                self.written = n
                ahead = started + n / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        finally:
            for handle in handles:
                handle.close()

    def halt(self) -> None:
        """Stops writing."""
        self._halt.set()
        self.join(timeout=30)


@dataclass
class Sample:
    """The agent at one moment."""

    elapsed_s: float
    processes: int
    rss_total_mib: float
    rss_max_mib: float
    """The largest single process."""
    fds_total: int
    fds_max: int
    threads_total: int
    registry_entries: int
    written: int
    delivered: int


def threads(pid: int) -> int:
    """Threads of one process now."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def registry_entries(data_dir: Path) -> int:
    """Entries over every registry file (one per worker)."""
    total = 0
    for path in data_dir.glob("registry*.json"):
        try:
            total += len(orjson.loads(path.read_bytes())["files"])
        except (OSError, orjson.JSONDecodeError, KeyError):
            continue
    return total


def delivered(base: str) -> int:
    """Records the agent's sinks delivered (summed over workers), from /metrics."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError:
        return -1
    total = 0.0
    for line in text.splitlines():
        if line.startswith("logship_sink_records_total{") and 'outcome="delivered"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def endpoint(stderr: Path, timeout: float = 60.0) -> str:
    """The supervisor's (or single agent's) HTTP address, from its self-log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stderr.exists():
            for line in stderr.read_bytes().splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if entry.get("message") == "HTTP endpoint listening." and "worker" not in entry:
                    return f"http://{entry['address']}"
        time.sleep(0.1)
    raise RuntimeError(f"the agent did not report its HTTP endpoint; see {stderr}")


def take_sample(
    pid: int, started: float, data_dir: Path, writer: RotatingWriter, base: str
) -> Sample:
    """One sample of the agent's process tree."""
    pids = tree(pid)
    rss = [rss_bytes(p) for p in pids]
    fds = [open_fds(p) for p in pids]
    return Sample(
        elapsed_s=round(time.monotonic() - started, 1),
        processes=len(pids),
        rss_total_mib=round(sum(rss) / MIB, 1),
        rss_max_mib=round(max(rss) / MIB, 1),
        fds_total=sum(fds),
        fds_max=max(fds),
        threads_total=sum(threads(p) for p in pids),
        registry_entries=registry_entries(data_dir),
        written=writer.written,
        delivered=delivered(base),
    )


def slope_per_hour(samples: list[Sample], field: str) -> float:
    """Least-squares slope of a field over the second half of the samples, per hour."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return 0.0
    xs = [s.elapsed_s for s in half]
    ys = [float(getattr(s, field)) for s in half]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var * 3600


def summarize(
    samples: list[Sample], args: argparse.Namespace, final: dict[str, Any]
) -> dict[str, Any]:
    """Start (first sample after the warm-up) and end figures, peaks and slopes."""
    start = next((s for s in samples if s.elapsed_s >= WARM_UP), samples[0])
    end = samples[-1]
    return {
        "duration_s": end.elapsed_s,
        "rate_lines_per_s": args.rate,
        "files": args.files,
        "workers": args.workers,
        "rotate_every": args.rotate_every,
        "start": asdict(start),
        "end": asdict(end),
        "peak_rss_total_mib": max(s.rss_total_mib for s in samples),
        "peak_fds_total": max(s.fds_total for s in samples),
        "peak_registry_entries": max(s.registry_entries for s in samples),
        "rss_total_slope_mib_per_h_second_half": round(slope_per_hour(samples, "rss_total_mib"), 2),
        "fds_total_slope_per_h_second_half": round(slope_per_hour(samples, "fds_total"), 2),
        **final,
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the soak; prints the summary; exit 1 if a line written was not delivered."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=duration, default=duration("1h"))
    parser.add_argument("--rate", type=float, default=5000.0, help="lines per second, all files")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rotate-every", type=int, default=200_000, help="lines per file")
    parser.add_argument("--workers", default="auto", help="agent.workers: auto or a number")
    parser.add_argument("--sample-every", type=duration, default=duration("30s"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "soak")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="logship-soak-"))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    csv_path, json_path = args.out / f"soak-{stamp}.csv", args.out / f"soak-{stamp}.json"
    writer = RotatingWriter(work / "logs", args.files, args.rate, args.rotate_every)
    workers: int | str = int(args.workers) if args.workers.isdigit() else args.workers
    doc = agent_doc(
        work,
        [str(work / "logs" / "access-*.log*")],
        {"type": "null", "encode": True},
        parsers=[NGINX_RULE],
        input_options={"scan_interval": "2s", "poll_interval": "200ms"},
        workers=workers,
        clean_removed_after="60s",
        http={"address": "127.0.0.1:0"},
    )
    doc["agent"]["log_level"] = "info"
    config = write_config(work / "agent.yaml", doc)
    for index in range(args.files):  # the files exist before the agent counts them (workers: auto)
        writer.path(index).touch()
    stderr = work / "agent.stderr.log"
    with stderr.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "logship", "run", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=REPO,
        )
    samples: list[Sample] = []
    started = time.monotonic()
    try:
        base = endpoint(stderr)
        writer.start()
        print(
            f"soak: {args.duration / 60:.0f} min, {args.rate:,.0f} lines/s over {args.files} files, "
            f"rotation every {args.rotate_every:,} lines, workers {args.workers}; work in {work}"
        )
        print(
            f"{'t s':>7} {'procs':>5} {'RSS MiB':>8} {'max':>6} {'fds':>5} {'thr':>4} {'reg':>4} "
            f"{'written':>11} {'delivered':>11}"
        )
        with csv_path.open("w", newline="") as f:
            out = csv.DictWriter(f, fieldnames=list(Sample.__dataclass_fields__))
            out.writeheader()
            next_sample = started
            while time.monotonic() - started < args.duration:
                if agent.poll() is not None:
                    raise RuntimeError(f"the agent exited with {agent.returncode}; see {stderr}")
                if not writer.is_alive():
                    raise RuntimeError("the writer stopped")
                sample = take_sample(agent.pid, started, work / "data", writer, base)
                samples.append(sample)
                out.writerow(asdict(sample))
                f.flush()
                print(
                    f"{sample.elapsed_s:>7.0f} {sample.processes:>5} {sample.rss_total_mib:>8.1f} "
                    f"{sample.rss_max_mib:>6.1f} {sample.fds_total:>5} {sample.threads_total:>4} "
                    f"{sample.registry_entries:>4} {sample.written:>11,} {sample.delivered:>11,}",
                    flush=True,
                )
                next_sample += args.sample_every
                time.sleep(max(0.0, next_sample - time.monotonic()))
        writer.halt()
        # Catch up, then stop gracefully: every line written must have been delivered.
        deadline = time.monotonic() + 300
        while delivered(base) < writer.written and time.monotonic() < deadline:
            time.sleep(1)
        final_delivered = delivered(base)
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(timeout=120)
    finally:
        writer.halt()
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    summary = summarize(
        samples,
        args,
        {
            "written": writer.written,
            "delivered": final_delivered,
            "rotations": writer.rotations,
            "exit_code": code,
        },
    )
    json_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    start, end = summary["start"], summary["end"]
    print(
        f"\nstart (t={start['elapsed_s']:.0f} s): RSS {start['rss_total_mib']:.1f} MiB in "
        f"{start['processes']} processes (largest {start['rss_max_mib']:.1f}), "
        f"{start['fds_total']} fds, {start['registry_entries']} registry entries"
    )
    print(
        f"end   (t={end['elapsed_s']:.0f} s): RSS {end['rss_total_mib']:.1f} MiB in "
        f"{end['processes']} processes (largest {end['rss_max_mib']:.1f}), "
        f"{end['fds_total']} fds, {end['registry_entries']} registry entries"
    )
    print(
        f"peaks: RSS {summary['peak_rss_total_mib']:.1f} MiB, {summary['peak_fds_total']} fds, "
        f"{summary['peak_registry_entries']} registry entries; second-half slopes: RSS "
        f"{summary['rss_total_slope_mib_per_h_second_half']:+.1f} MiB/h, fds "
        f"{summary['fds_total_slope_per_h_second_half']:+.1f}/h"
    )
    print(
        f"lines written {writer.written:,}, delivered {final_delivered:,}, "
        f"{writer.rotations} rotations, exit code {code}"
    )
    print(f"samples: {csv_path}\nsummary: {json_path}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if final_delivered >= writer.written and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
