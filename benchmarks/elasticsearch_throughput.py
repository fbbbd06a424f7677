"""Throughput of file -> nginx rule -> Elasticsearch next to file -> nginx rule -> file, in one run.

    python benchmarks/elasticsearch_throughput.py [--lines 1000000] [--keep DIR]

Elasticsearch is the local stand-in (`tests/doubles/es_server.py`, in its own process, keeping ids but
not sources). For each run the agent is a separate process; reported: wall-clock lines/s and
MiB/s (from start to the last line delivered), the agent's CPU seconds (user + sys, from
wait4), its peak RSS, and for Elasticsearch the bulk request sizes the sink chose. Figures on a
shared 2-core machine are noisy: compare the two rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.agent_run import Measurement, agent_doc, write_config  # noqa: E402
from benchmarks.agent_run import run_agent as run_measured_agent  # noqa: E402
from benchmarks.nginx_log import OUT, ensure_input, write  # noqa: E402
from benchmarks.report import Report  # noqa: E402


@dataclass
class Result:
    name: str
    seconds: float
    cpu: float
    user: float
    system: float
    rss_mib: float
    minor_faults: int
    extra: dict[str, Any]


def run_agent(name: str, folder: Path, sink: dict[str, Any], delivered: Any, total: int) -> Result:
    """The agent over folder/../input/*.log to `sink`, measured by `benchmarks.agent_run`."""
    folder.mkdir(parents=True)
    m = measure(name, folder, [str(folder.parent / "input" / "*.log")], sink, delivered, total)
    return Result(
        name,
        m.wall_s,
        m.cpu_s,
        m.cpu_user_s,
        m.cpu_sys_s,
        m.peak_rss_mib,
        m.minor_faults,
        closing_figures(folder / "agent.stderr.log"),
    )


def measure(
    name: str, folder: Path, paths: list[str], sink: dict[str, Any], delivered: Any, total: int
) -> Measurement:
    """One agent run (info-level self-logs, for the sink's closing figures)."""
    doc = agent_doc(folder, paths, sink, log_level="info")
    config = write_config(folder / "agent.yaml", doc)
    size = sum(os.path.getsize(p) for pattern in paths for p in glob.glob(pattern))
    return run_measured_agent(name, config, total, size, delivered, timeout=1800)


def closing_figures(stderr: Path) -> dict[str, Any]:
    """The Elasticsearch sink's closing self-log (request and body sizes), if there is one."""
    extra: dict[str, Any] = {}
    for raw in stderr.read_bytes().splitlines() if stderr.exists() else []:
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if entry.get("message") == "Elasticsearch sink closed.":
            extra = entry
    return extra


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The local Elasticsearch stand-in in its own process (ids kept, sources not)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.es_server", "--port", "0", "--no-sources"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    return server, f"http://127.0.0.1:{port}"


def stop_server(server: subprocess.Popen[str]) -> float:
    """Stops the stand-in; returns its CPU seconds."""
    server.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(server.pid, 0)
    return usage.ru_utime + usage.ru_stime


def run(lines: int, keep: bool = False) -> Report:
    """Scenario `elasticsearch` of the suite: file -> nginx rule -> the local Elasticsearch."""
    log = ensure_input(lines)
    work = OUT / "elasticsearch"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report = Report(
        "elasticsearch", f"file -> nginx rule -> Elasticsearch (local stand-in), {lines:,} lines"
    )
    server, url = start_server()
    try:
        sink = {"type": "elasticsearch", "hosts": [url], "dataset": "nginx.access"}
        m = measure(
            "agent file -> elasticsearch", work, [str(log)], sink, lambda: es_count(url), lines
        )
    finally:
        server_cpu = stop_server(server)
    report.measurements.append(m)
    es = closing_figures(work / "agent.stderr.log")
    if es:
        requests = es["requests"] or 1
        report.notes.append(
            f"{es['requests']:,} bulk requests of {es['items'] / requests:,.0f} documents, "
            f"{es['sent_bytes'] / requests / 1024:,.0f} KiB on the wire each"
        )
    report.notes.append(f"the stand-in server (not counted): {server_cpu:.2f} CPU s")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def es_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_count", timeout=30) as answer:
        return int(orjson.loads(answer.read())["count"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--es",
        action="append",
        default=[],
        metavar="KEY=YAML",
        help="an extra setting of the elasticsearch sink, e.g. --es compression_level=0",
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="logship-es-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "input").mkdir(exist_ok=True)
    log = work / "input" / "access.log"
    size = write(str(log), args.lines)
    mib = size / (1 << 20)
    print(f"input: {args.lines:,} nginx lines, {mib:.1f} MiB ({log})")

    results = []
    out = work / "file-run" / "out.ndjson"
    results.append(
        run_agent(
            "file -> file",
            work / "file-run",
            {"name": "file", "type": "file", "path": str(out)},
            lambda: count_lines(out),
            args.lines,
        )
    )

    server, url = start_server()
    try:
        results.append(
            run_agent(
                "file -> elasticsearch",
                work / "es-run",
                {
                    "name": "es",
                    "type": "elasticsearch",
                    "hosts": [url],
                    "dataset": "nginx.access",
                    **{k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.es)},
                },
                lambda: es_count(url),
                args.lines,
            )
        )
    finally:
        server_cpu = stop_server(server)

    print()
    print(
        f"{'run':<24}{'lines/s':>10}{'MiB/s':>8}{'wall s':>8}{'CPU s':>8}{'user':>7}{'sys':>6}"
        f"{'lines/CPU s':>13}{'peak RSS MiB':>14}{'minflt':>9}"
    )
    for r in results:
        print(
            f"{r.name:<24}{args.lines / r.seconds:>10,.0f}{mib / r.seconds:>8.1f}{r.seconds:>8.2f}"
            f"{r.cpu:>8.2f}{r.user:>7.2f}{r.system:>6.2f}{args.lines / r.cpu:>13,.0f}"
            f"{r.rss_mib:>14.0f}{r.minor_faults:>9,}"
        )
    es = results[1].extra
    if es:
        requests = es["requests"] or 1
        print()
        print(
            f"bulk requests: {es['requests']:,}, {es['items'] / requests:,.0f} documents each "
            f"(max {es['max_items_per_request']:,}); body {es['body_bytes'] / requests / 1024:,.0f} KiB "
            f"(max {es['max_body_bytes'] / 1024:,.0f} KiB), on the wire {es['sent_bytes'] / requests / 1024:,.0f} KiB "
            f"({es['body_bytes'] / max(es['sent_bytes'], 1):.1f}x smaller)"
        )
    print(
        f"fake Elasticsearch process: {server_cpu:.2f} CPU s "
        f"(parsing and storing ids; not part of the agent's figures)"
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
