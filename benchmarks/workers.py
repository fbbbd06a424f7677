"""Multi-core: two busy files through one worker process, then through two (`workers: N`).

    python benchmarks/workers.py [--lines N]

The same 1,000,000 nginx lines are split over two files; the agent ships them to a file sink
with `workers: 1` and then `workers: 2`, in the same run. Each worker owns one file (files are
assigned by a hash of their identity; the two files are checked to land on different workers).
Reported: lines/s of each and their ratio (issue 20's target: 1.9x with the null sink), from
the start and once running (from a quarter of the lines on: without the ~0.4 s start-up of the
first process, which two workers do not halve; `benchmarks/startup.py` measures it apart).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import (
    LineCounter,
    RegistryProgress,
    agent_doc,
    run_agent,
    write_config,
)
from benchmarks.nginx_log import ensure_input
from benchmarks.report import Report
from benchmarks.throughput import workdir
from logship.state.shard import Shard
from logship.tail.identity import FileIdentity


def split_input(lines: int, work: Path) -> list[Path]:
    """Two files with half the lines each, placed on different workers of two."""
    source = ensure_input(lines)
    half = lines // 2
    files: list[Path] = []
    attempt = 0
    with source.open("rb") as f:
        data = f.readlines()
    while len(files) < 2:
        path = work / "logs" / f"part-{attempt}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        chunk = data[:half] if not files else data[half : 2 * half]
        path.write_bytes(b"".join(chunk))
        key = FileIdentity.of(path.stat()).key
        if files and Shard(0, 2).owns(key) == Shard(0, 2).owns(
            FileIdentity.of(files[0].stat()).key
        ):
            path.unlink()  # same worker as the first file: try another inode
        else:
            files.append(path)
        attempt += 1
    return files


def run(lines: int, keep: bool = False, sink: str = "file") -> Report:
    """Scenario `workers`: one worker against two, two busy files.

    `sink`: `file` (both workers append to one NDJSON file), or `null` (records are encoded,
    then discarded: CPU scaling without the disk; done when the checkpoints cover both files).
    """
    work = workdir("workers")
    files = split_input(lines, work)
    total = sum(1 for p in files for _ in p.open("rb"))
    size = sum(p.stat().st_size for p in files)
    report = Report("workers", f"two files of {total // 2:,} lines: workers 1 then 2 ({sink} sink)")
    for count in (1, 2):
        run_dir = work / f"w{count}"
        run_dir.mkdir()
        out = run_dir / "out.ndjson"
        target: dict[str, object] = (
            {"type": "file", "path": str(out)}
            if sink == "file"
            else {"type": "null", "encode": True}
        )
        doc = agent_doc(
            run_dir, [str(p) for p in files], target, workers=count, checkpoint_interval="100ms"
        )
        config = write_config(run_dir / "agent.yaml", doc)
        name = f"{count} worker(s)"
        if sink == "file":
            measured = run_agent(name, config, total, size, LineCounter(out).poll)
        else:
            progress = RegistryProgress(run_dir / "data")
            measured = run_agent(name, config, total, size, progress.poll, target=size)
        report.measurements.append(measured)
    one, two = report.measurements
    report.notes.append(
        f"two workers / one: {two.lines_per_s / one.lines_per_s:.2f}x the lines/s "
        f"({two.lines_per_cpu_s / one.lines_per_cpu_s:.0%} of the lines per CPU-second)"
    )
    if one.steady_lines_per_s and two.steady_lines_per_s:
        # The same runs from a quarter of the way on: the scaling of a running agent, without
        # the start-up (a fixed cost of ~0.4 s that two workers do not halve; startup.py).
        report.notes.append(
            f"once running (from 25% of the lines): one worker {one.steady_lines_per_s:,.0f} "
            f"lines/s, two {two.steady_lines_per_s:,.0f}: "
            f"{two.steady_lines_per_s / one.steady_lines_per_s:.2f}x"
        )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def run_scaling(lines: int, keep: bool = False) -> Report:
    """The suite's `workers` scenario: the null sink on 4x the lines (the scaling target, with
    runs long enough that the ~0.25 s start-up of the first process does not decide it), then
    the file sink on `lines`; one report with both."""
    null = run(4 * lines, keep, "null")
    file = run(lines, keep, "file")
    report = Report("workers", f"{null.title}; {file.title}")
    for part, sink in ((null, "null"), (file, "file")):
        for measured in part.measurements:
            measured.name = f"{measured.name}, {sink}"
        report.measurements += part.measurements
        report.notes += [f"{sink} sink: {note}" for note in part.notes]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--sink", choices=["file", "null"], default="file")
    args = parser.parse_args()
    print(run(args.lines, args.keep, args.sink).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
