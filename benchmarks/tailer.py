"""Tailer benchmarks: many busy files, an idle agent, and registry size under file churn.

    python benchmarks/tailer.py [many|idle|churn|all] [--lines N] [--files N]

many:  1,000 files of 1,000 nginx lines each against one file of the same 1,000,000 lines,
       through the agent (nginx rule, file sink), in the same run: lines/s and the ratio.
idle:  the agent watching 1,000 quiet files (already read): CPU used over 30 s, as % of a core.
churn: 100,000 files created, read and deleted in waves of 1,000 with a short
       clean_removed_after: the registry's entry count and size at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import (
    REPO,
    LineCounter,
    proc_stats,
    process_tree,
    run_agent,
    write_config,
)
from benchmarks.agent_run import agent_doc as base_doc
from benchmarks.nginx_log import ensure_input
from benchmarks.report import Report

OUT = Path(__file__).resolve().parent / "out" / "tailer"


def agent_doc(work: Path, paths: list[str], **agent: object) -> dict[str, Any]:
    """The nginx rule to a file sink at work/out.ndjson."""
    return base_doc(work, paths, {"type": "file", "path": str(work / "out.ndjson")}, **agent)


def many(lines: int, files: int, keep: bool = True) -> Report:
    """One file against `files` files holding the same lines (scenario `files` of the suite)."""
    source = ensure_input(lines)
    per_file = lines // files
    work = OUT / "many"
    shutil.rmtree(work, ignore_errors=True)
    spread = work / "spread"
    spread.mkdir(parents=True)
    with source.open("rb") as f:
        for n in range(files):
            (spread / f"access-{n:04}.log").write_bytes(
                b"".join(f.readline() for _ in range(per_file))
            )
    total = per_file * files
    report = Report(
        "files", f"{total:,} nginx lines: one file, then {files:,} files of {per_file:,} lines"
    )
    results = report.measurements
    for name, paths in (("one file", [str(source)]), (f"{files} files", [str(spread / "*.log")])):
        run = work / name.replace(" ", "-")
        run.mkdir()
        config = write_config(run / "agent.yaml", agent_doc(run, paths, max_open_files=files + 10))
        measured = run_agent(
            name,
            config,
            total if name != "one file" else lines,
            source.stat().st_size,
            LineCounter(run / "out.ndjson").poll,
        )
        results.append(measured)
    report.notes.append(
        f"{files} files / one file: {results[1].lines_per_s / results[0].lines_per_s:.0%} of the lines/s, "
        f"{results[1].lines_per_cpu_s / results[0].lines_per_cpu_s:.0%} of the lines per CPU-second"
    )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def idle(files: int, seconds: float = 30.0) -> None:
    """CPU of an agent watching `files` quiet files."""
    work = OUT / "idle"
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    for n in range(files):
        (logs / f"quiet-{n:04}.log").write_text(f"one line in file {n}\n")
    config = write_config(
        work / "agent.yaml", agent_doc(work, [str(logs / "*.log")], max_open_files=files + 10)
    )
    stderr = (work / "agent.stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=REPO,
    )
    counter = LineCounter(work / "out.ndjson")
    try:
        deadline = time.monotonic() + 120
        while counter.poll() < files:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the files were not read")
            time.sleep(0.1)
        time.sleep(10)  # let polls back off to their idle rate
        user0, sys0, _, rss = proc_stats(proc.pid)
        time.sleep(seconds)
        user1, sys1, _, rss = proc_stats(proc.pid)
        fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in process_tree(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        stderr.close()
    cpu = (user1 - user0) + (sys1 - sys0)
    print(
        f"idle agent, {files:,} quiet files open ({fds} descriptors): {cpu:.2f} CPU-s in {seconds:.0f} s "
        f"= {cpu / seconds:.2%} of a core; peak RSS {rss:.0f} MiB"
    )


def churn(total: int, wave: int = 1000) -> None:
    """Files come and go; the registry must not keep them all."""
    work = OUT / "churn"
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    doc = agent_doc(work, [str(logs / "*.log")], clean_removed_after="5s", checkpoint_interval="1s")
    doc["inputs"][0]["scan_interval"] = "1s"  # type: ignore[index]
    config = write_config(work / "agent.yaml", doc)
    stderr = (work / "agent.stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=REPO,
    )
    counter = LineCounter(work / "out.ndjson")
    started = time.monotonic()
    peak_entries = 0
    registry = work / "data" / "registry.json"
    try:
        made = 0
        while made < total:
            for n in range(made, made + wave):
                (logs / f"f{n:06}.log").write_text(f"line of file {n}\n")
            made += wave
            while counter.poll() < made:
                if proc.poll() is not None:
                    raise RuntimeError("agent exited")
                time.sleep(0.05)
            for n in range(made - wave, made):
                (logs / f"f{n:06}.log").unlink()
            if registry.exists():
                try:
                    peak_entries = max(
                        peak_entries, len(orjson.loads(registry.read_bytes())["files"])
                    )
                except orjson.JSONDecodeError:
                    pass
        time.sleep(8)  # longer than clean_removed_after + a scan + a checkpoint
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        stderr.close()
    entries = len(orjson.loads(registry.read_bytes())["files"])
    print(
        f"churn: {total:,} files created, read and deleted in {time.monotonic() - started:.0f} s; "
        f"registry peak {peak_entries:,} entries, at the end {entries} entries, {registry.stat().st_size:,} bytes "
        f"(clean_removed_after 5s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenario", nargs="?", default="all", choices=["many", "idle", "churn", "all"]
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--churn-files", type=int, default=100_000)
    args = parser.parse_args()
    if args.scenario in ("many", "all"):
        print(many(args.lines, args.files).text(), flush=True)
    if args.scenario in ("idle", "all"):
        idle(args.files)
    if args.scenario in ("churn", "all"):
        churn(args.churn_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
