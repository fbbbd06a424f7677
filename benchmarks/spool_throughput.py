"""The cost of a per-sink spool: file -> nginx rule -> file + Elasticsearch, with and without
`spool:` on the (healthy) Elasticsearch sink; then the spool's write and drain rates.

    python benchmarks/spool_throughput.py [--lines 300000] [--keep DIR]

Rows 1-2: the same agent with the fake Elasticsearch healthy, without and with a spool on it;
the spool is only written while a sink lags, so the two should be within noise (the issue asks
for 5%). Reported like the other agent benchmarks: wall-clock lines/s from start to the last
line in both sinks, CPU seconds, peak RSS.

Then the spool itself: the agent starts while Elasticsearch is down (its port refuses), so every
record goes to the spool; the write rate is records (and spool MiB) over the time until every
line is checkpointed (= in the file sink and fsynced in the spool). Then the fake Elasticsearch
starts on that port and the drain rate is records over the time until it holds them all.
Figures on a shared 2-core machine are noisy: compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.agent_run import Measurement, RegistryProgress, agent_doc, write_config  # noqa: E402
from benchmarks.agent_run import run_agent as run_measured_agent  # noqa: E402
from benchmarks.elasticsearch_throughput import count_lines, es_count, stop_server  # noqa: E402
from benchmarks.nginx_log import write  # noqa: E402

MIB = 1 << 20


def start_server(port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """The local Elasticsearch stand-in in its own process, on `port` (0: any)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.es_server", "--port", str(port), "--no-sources"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    bound = int(server.stdout.readline().split()[1])
    return server, f"http://127.0.0.1:{bound}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_sinks(work: Path, log: Path, url: str, spool: dict[str, Any] | None) -> dict[str, Any]:
    """file -> nginx rule -> [file `out`, elasticsearch `es` (+ spool)]."""
    doc = agent_doc(
        work, [str(log)], {"type": "file", "path": str(work / "out.ndjson")}, log_level="info"
    )
    es: dict[str, Any] = {
        "name": "es",
        "type": "elasticsearch",
        "hosts": [url],
        "dataset": "nginx.access",
        "retry": {"initial_backoff": "50ms", "max_backoff": "500ms"},
    }
    if spool is not None:
        es["spool"] = spool
    doc["sinks"].append(es)
    doc["agent"]["workers"] = 1
    doc["agent"]["checkpoint_interval"] = "100ms"
    doc["agent"]["http"] = {"address": None}
    return doc


def healthy_run(name: str, root: Path, log: Path, lines: int, spool: bool) -> Measurement:
    work = root / name
    work.mkdir(parents=True)
    server, url = start_server()
    try:
        doc = two_sinks(work, log, url, {"max_bytes": "1GiB"} if spool else None)
        config = write_config(work / "agent.yaml", doc)
        out = work / "out.ndjson"

        def delivered() -> int:
            return min(count_lines(out), es_count(url))

        m = run_measured_agent(name, config, lines, log.stat().st_size, delivered, timeout=1800)
    finally:
        stop_server(server)
    segments = list((work / "data" / "spool" / "es").glob("*.seg")) if spool else []
    lagged = "Sink lags" in (work / "agent.stderr.log").read_text()
    if spool:
        print(
            f"  spool written during the healthy run: {'yes' if lagged else 'no'}; "
            f"segments left: {len(segments)}"
        )
    return m


def wait(predicate: Callable[[], bool], timeout: float) -> float:
    """Polls until `predicate()`; returns when (monotonic). Raises on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark did not finish in time")
        time.sleep(0.05)
    return time.monotonic()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


def spool_rates(root: Path, log: Path, lines: int) -> None:
    """Write rate with Elasticsearch down from the start, then drain rate once it is up."""
    work = root / "spool-rates"
    work.mkdir(parents=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    doc = two_sinks(work, log, url, {"max_bytes": "4GiB"})
    config = write_config(work / "agent.yaml", doc)
    size = log.stat().st_size
    progress = RegistryProgress(work / "data")
    spool = work / "data" / "spool" / "es"
    stderr = (work / "agent.stderr.log").open("ab")
    agent = subprocess.Popen(
        [sys.executable, "-m", "logship", "run", "-c", str(config)], cwd=REPO, stderr=stderr
    )
    server = None
    try:
        started = time.monotonic()
        spooled_at = wait(lambda: progress.poll() >= size, timeout=1800)
        spool_bytes = folder_bytes(spool)
        write_s = spooled_at - started
        print(
            f"spool write (Elasticsearch down, file sink beside it): {lines:,} records in "
            f"{write_s:.2f} s = {lines / write_s:,.0f} records/s, "
            f"{spool_bytes / MIB / write_s:.1f} MiB/s of spool ({spool_bytes / MIB:.1f} MiB, "
            f"{spool_bytes / lines:.0f} bytes/record); includes reading and parsing the file"
        )
        server, _ = start_server(port)
        up = time.monotonic()
        drained_at = wait(lambda: es_count(url) >= lines, timeout=1800)
        drain_s = drained_at - up
        print(
            f"spool drain (Elasticsearch back): {lines:,} records in {drain_s:.2f} s = "
            f"{lines / drain_s:,.0f} records/s, {spool_bytes / MIB / drain_s:.1f} MiB/s of spool"
        )
    finally:
        agent.terminate()
        agent.wait(timeout=120)
        stderr.close()
        if server is not None:
            stop_server(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--repeat", type=int, default=1, help="A/B pairs, order alternated")
    parser.add_argument("--skip-rates", action="store_true", help="only the healthy A/B")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="logship-spool-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "input").mkdir(exist_ok=True)
    log = root / "input" / "access.log"
    size = write(str(log), args.lines)
    print(f"input: {args.lines:,} nginx lines, {size / MIB:.1f} MiB")
    rows: list[Measurement] = []
    for i in range(args.repeat):
        # Alternate the order: on a shared machine the load drifts between runs.
        order = [False, True] if i % 2 == 0 else [True, False]
        for spool in order:
            name = "spool on, healthy" if spool else "no spool"
            rows.append(healthy_run(name, root / f"r{i}", log, args.lines, spool=spool))
    print()
    print(
        f"{'file -> file + es':<22}{'lines/s':>10}{'wall s':>8}{'CPU s':>8}{'lines/CPU s':>13}"
        f"{'peak RSS MiB':>14}"
    )
    for m in rows:
        print(
            f"{m.name:<22}{m.lines_per_s:>10,.0f}{m.wall_s:>8.2f}{m.cpu_s:>8.2f}"
            f"{m.lines / m.cpu_s:>13,.0f}{m.peak_rss_mib:>14.0f}"
        )
    base = [m for m in rows if m.name == "no spool"]
    spooled = [m for m in rows if m.name != "no spool"]
    rate = statistics.median(m.lines_per_s for m in spooled) / statistics.median(
        m.lines_per_s for m in base
    )
    cpu = statistics.median(m.cpu_s for m in spooled) / statistics.median(m.cpu_s for m in base)
    print(
        f"spool on vs off (medians of {args.repeat}): {100 * (rate - 1):+.1f}% lines/s, "
        f"{100 * (cpu - 1):+.1f}% CPU"
    )
    if not args.skip_rates:
        print()
        spool_rates(root, log, args.lines)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
