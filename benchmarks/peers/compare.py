"""The agent side by side with rsyslog and syslog-ng on the same 1,000,000 nginx lines.

    python benchmarks/peers/compare.py [--lines N] [--only logship,rsyslog,syslog-ng] [--repeat N] [--keep]

Each contender tails the same generated log, parses the same ten fields with the same rule
(see `rsyslog.py` and `syslog_ng.py` for how each does it) and writes one JSON document per
line to a file. Each is a separate process measured the same way (`measure_process`): wall
time from its start until the last line is in its output, CPU seconds (user + sys, all
threads) and peak RSS from /proc. Then each output is verified (`verify.py`): every line
present once, fields right on a sample; a contender whose output is wrong is reported as such.
The table ends with the ratios logship / peer. The peers are installed on first use (see
`install.py`; needs root for apt-get).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.agent_run import LineCounter, Measurement, measure_process
from benchmarks.nginx_log import OUT, ensure_input
from benchmarks.peers import install, rsyslog, syslog_ng
from benchmarks.peers.verify import verify
from benchmarks.report import Report
from benchmarks.throughput import agent_file_to_file

CONTENDERS = ["logship", "rsyslog", "syslog-ng"]


def run_peer(peer: install.Peer, log: Path, lines: int, work: Path) -> Measurement:
    """One peer over the log until every line is in its output."""
    state = work / "state"
    out = work / "out.ndjson"
    if peer.name == "rsyslog":
        conf = rsyslog.prepare(log, out, state)
        argv = rsyslog.command(peer, conf, state)
    else:
        version = ".".join(peer.version.split(".")[:2])
        conf = syslog_ng.prepare(log, out, state, version)
        argv = syslog_ng.command(peer, conf, state)
    return measure_process(
        f"{peer.name} {peer.version.split('-')[0]}",
        argv,
        lines,
        log.stat().st_size,
        LineCounter(out).poll,
        env=peer.env,
        log_path=work / f"{peer.name}.log",
    )


def median(values: list[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def ratio_table(runs: dict[str, list[Measurement]]) -> list[str]:
    """logship / peer for lines/s and lines per CPU-second (medians over the rounds)."""
    ours = runs["logship"]
    rows = [f"{'logship / peer':<28} {'lines/s':>10} {'lines/CPU-s':>12}"]
    for name, theirs in runs.items():
        if name == "logship":
            continue
        rate = median([m.lines_per_s for m in ours]) / median([m.lines_per_s for m in theirs])
        per_cpu = median([m.lines_per_cpu_s for m in ours]) / median(
            [m.lines_per_cpu_s for m in theirs]
        )
        rows.append(f"{'/ ' + name:<28} {rate:>9.2f}x {per_cpu:>11.2f}x")
    if len(ours) > 1:
        rows.append(f"(medians of {len(ours)} rounds; the contenders take turns in each round)")
    return rows


def run(lines: int, keep: bool = False, only: list[str] | None = None, repeat: int = 1) -> Report:
    """Scenario `peers`: logship, rsyslog and syslog-ng, each verified, with the ratios.

    With `repeat` > 1 the contenders run in turn `repeat` times (so a burst of load from other
    work on the machine hits them alike) and the ratios use the medians.
    """
    chosen = only or CONTENDERS
    log = ensure_input(lines)
    root = OUT / "peers-run"
    shutil.rmtree(root, ignore_errors=True)
    report = Report(
        "peers", f"nginx rule to NDJSON file, {lines:,} lines: logship vs rsyslog vs syslog-ng"
    )
    getters: dict[str, Callable[[], install.Peer]] = {
        "rsyslog": install.rsyslog,
        "syslog-ng": install.syslog_ng,
    }
    peers = {name: getters[name]() for name in chosen if name != "logship"}
    report.notes += [
        f"{peer.name} {peer.version}: {peer.how} from Debian's package" for peer in peers.values()
    ]
    runs: dict[str, list[Measurement]] = {name: [] for name in chosen}
    for round_ in range(repeat):
        suffix = f" #{round_ + 1}" if repeat > 1 else ""
        for name in chosen:
            work = root / f"{name}-{round_}"
            work.mkdir(parents=True)
            if name == "logship":
                measured = agent_file_to_file(
                    log, lines, work, name=f"logship file -> file{suffix}"
                )
                out = work / "agent.ndjson"
            else:
                measured = run_peer(peers[name], log, lines, work)
                measured.name += suffix
                out = work / "out.ndjson"
            runs[name].append(measured)
            report.measurements.append(measured)
            checked = verify(measured.name, log, out)
            if round_ == 0 or not checked.ok:
                report.notes.append(checked.summary())
            if round_ == 0:
                size = out.stat().st_size if out.exists() else 0
                report.notes.append(
                    f"{name}: {size / max(checked.output_records, 1):.0f} output bytes per record"
                )
            if not keep:
                out.unlink(missing_ok=True)
    if "logship" in runs and len(runs) > 1:
        report.notes += ratio_table(runs)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",")],
        help=f"a comma-separated subset of {','.join(CONTENDERS)}",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds (contenders in turn); ratios of medians"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep outputs and state in benchmarks/out"
    )
    args = parser.parse_args()
    unknown = set(args.only or []) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    print(run(args.lines, args.keep, args.only, args.repeat).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
