"""The benchmark suite: every scenario in one run (`make bench`), or the ones named.

    python benchmarks/suite.py [SCENARIO ...] [--lines N] [--quick] [--keep] [--list]

Scenarios (in the order they run):
  null           file -> nginx rule -> null sink: the agent without an output
  file           file -> nginx rule -> file sink, next to a bare Python loop (the yardstick)
  kafka          file -> nginx rule -> Kafka (librdkafka's mock broker, its own process),
                 then rsyslog's omkafka doing the same, for the ratio
  elasticsearch  file -> nginx rule -> Elasticsearch (the local stand-in, its own process)
  files          the same lines from one file, then from 1,000 files
  multiline      log4j lines with stack traces, multiline preset java_stacktrace -> file
  workers        two busy files with workers: 1, then workers: 2 (multi-core scaling): the null
                 sink on 4x the lines, then the file sink
  json           JSON lines -> json rule -> file
  enrich         nginx_access -> file with enrich [user_agent, geoip, url] against none
                 (public client addresses; MaxMind's test databases), same run
  latency        a writer at 10,000 lines/s, then lines into files quiet for 20 s: line
                 written -> in the output, p50/p99; then idle CPU with 1,000 quiet files
  peers          logship vs rsyslog vs syslog-ng vs Filebeat vs the OpenTelemetry Collector,
                 same log, same fields, every output verified line by line (three rounds,
                 contenders in turn, medians and ratios)
  peers-kafka    logship vs rsyslog omkafka vs Filebeat into the same mock Kafka broker
                 (three rounds; otelcol's build has no Kafka exporter)

Every row: lines/s and MiB/s over wall time, CPU seconds (user + sys, all threads), lines per
CPU-second, peak RSS, minor page faults. The machine is shared and noisy: compare ratios within
a run. The inputs are generated once into benchmarks/out/ and reused; the results of the run
are also written to benchmarks/out/results.md (a Markdown table) and results.txt.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (
    elasticsearch_throughput,
    enrich_overhead,
    json_lines,
    kafka_throughput,
    latency,
    multiline_throughput,
    tailer,
    throughput,
    workers,
)
from benchmarks.nginx_log import OUT
from benchmarks.peers import compare, kafka_race
from benchmarks.report import Report, markdown

Runner = Callable[[int, bool], Report]

SCENARIOS: dict[str, Runner] = {
    "null": throughput.run_null,
    "file": throughput.run_file,
    "kafka": kafka_throughput.run,
    "elasticsearch": elasticsearch_throughput.run,
    "files": lambda lines, keep: tailer.many(lines, 1000, keep),
    "multiline": multiline_throughput.run,
    "workers": workers.run_scaling,
    "json": json_lines.run,
    "enrich": lambda lines, keep: enrich_overhead.run(lines, 2 if lines >= 1_000_000 else 1, keep),
    "latency": lambda lines, keep: latency.run_all(
        30.0 if lines >= 1_000_000 else 10.0, keep, quick=lines < 1_000_000
    ),
    # Three rounds with the contenders taking turns: the peer ratios are the headline figures.
    "peers": lambda lines, keep: compare.run(lines, keep, None, 3 if lines >= 1_000_000 else 1),
    "peers-kafka": lambda lines, keep: kafka_race.run(
        lines, keep, None, 3 if lines >= 1_000_000 else 1
    ),
}


def machine() -> str:
    """A line about where the run happened."""
    cpus = len(os.sched_getaffinity(0))
    return (
        f"{platform.node()}: {cpus} CPUs, Python {platform.python_version()}, {platform.platform()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all")
    parser.add_argument("--lines", type=int, default=1_000_000, help="input lines per scenario")
    parser.add_argument(
        "--quick", action="store_true", help="100,000 lines and a 10 s latency run: a smoke test"
    )
    parser.add_argument("--keep", action="store_true", help="keep work folders in benchmarks/out")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    lines = 100_000 if args.quick else args.lines
    chosen = args.scenarios or list(SCENARIOS)
    header = (
        f"logship benchmark suite, {time.strftime('%Y-%m-%d %H:%M')}, {lines:,} lines; {machine()}"
    )
    print(header, flush=True)
    reports: list[Report] = []
    failed: list[str] = []
    started = time.monotonic()
    for name in chosen:
        print(flush=True)
        try:
            report = SCENARIOS[name](lines, args.keep)
        except Exception as exc:  # a broken scenario must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            report = Report(name, "failed")
            report.skipped = f"FAILED: {exc}"
        reports.append(report)
        print(report.text(), flush=True)
    took = time.monotonic() - started
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.txt").write_text(
        header + "\n\n" + "\n\n".join(r.text() for r in reports) + f"\n\n({took:.0f} s)\n"
    )
    (OUT / "results.md").write_text(f"{header}\n\n{markdown(reports)}\n")
    print(f"\nsuite done in {took:.0f} s; results in {OUT / 'results.txt'} and results.md")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
