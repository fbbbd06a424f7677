"""Java multiline: log4j lines with stack traces joined into events, through the agent.

    python benchmarks/multiline_throughput.py [--lines N] [--keep]

The input (`java_log.py`, about N physical lines, about half of them stack-trace lines) is read
with `multiline: {preset: java_stacktrace}` and the log4j rule (timestamp, level, thread,
logger, message with the trace) to the file sink. Done when every event but the last is in the
output (the last one waits for `flush_timeout`, 5 s, as it could still grow);
lines/s and MiB/s count physical input lines, so they compare with the nginx scenarios.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import LineCounter, agent_doc, run_agent, write_config
from benchmarks.java_log import JAVA_RULE, ensure_input
from benchmarks.nginx_log import OUT
from benchmarks.report import Report


def run(lines: int, keep: bool = False) -> Report:
    """Scenario `multiline`."""
    log, physical, events = ensure_input(lines)
    work = OUT / "multiline"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work / "agent.ndjson"
    doc = agent_doc(
        work,
        [str(log)],
        {"type": "file", "path": str(out)},
        parsers=[JAVA_RULE],
        input_options={"multiline": {"preset": "java_stacktrace"}},
    )
    config = write_config(work / "agent.yaml", doc)
    report = Report(
        "multiline",
        f"Java log4j with stack traces, multiline java_stacktrace -> file, "
        f"{physical:,} lines = {events:,} events",
    )
    measured = run_agent(
        "agent java multiline",
        config,
        physical,
        log.stat().st_size,
        LineCounter(out).poll,
        # The last event is held for flush_timeout (it could still grow): not waited for.
        target=events - 1,
    )
    report.measurements.append(measured)
    report.notes.append(
        f"{events / measured.wall_s:,.0f} events/s, {events / measured.cpu_s:,.0f} events per CPU-second"
    )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder in benchmarks/out"
    )
    args = parser.parse_args()
    print(run(args.lines, args.keep).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
