"""The agent side by side with rsyslog and syslog-ng on the same 1,000,000 nginx lines.

    python benchmarks/peers/compare.py [--lines N] [--only logship,rsyslog,syslog-ng] [--keep]

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


def ratio_table(ours: Measurement, peers: list[Measurement]) -> list[str]:
    """logship / peer for lines/s and lines per CPU-second."""
    rows = [f"{'logship / peer':<28} {'lines/s':>10} {'lines/CPU-s':>12}"]
    for peer in peers:
        rows.append(
            f"{'/ ' + peer.name:<28} {ours.lines_per_s / peer.lines_per_s:>9.2f}x "
            f"{ours.lines_per_cpu_s / peer.lines_per_cpu_s:>11.2f}x"
        )
    return rows


def run(lines: int, keep: bool = False, only: list[str] | None = None) -> Report:
    """Scenario `peers`: logship, rsyslog and syslog-ng, each verified, with the ratios."""
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
    ours: Measurement | None = None
    peers: list[Measurement] = []
    for name in chosen:
        work = root / name
        work.mkdir(parents=True)
        if name == "logship":
            measured = agent_file_to_file(log, lines, work, name="logship file -> file")
            ours = measured
            out = work / "agent.ndjson"
        else:
            peer = getters[name]()
            report.notes.append(f"{name} {peer.version}: {peer.how} from Debian's package")
            measured = run_peer(peer, log, lines, work)
            peers.append(measured)
            out = work / "out.ndjson"
        report.measurements.append(measured)
        checked = verify(name, log, out)
        report.notes.append(checked.summary())
        size = out.stat().st_size if out.exists() else 0
        report.notes.append(
            f"{name}: {size / max(checked.output_records, 1):.0f} output bytes per record"
        )
        if not keep:
            out.unlink(missing_ok=True)
    if ours is not None and peers:
        report.notes += ratio_table(ours, peers)
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
        "--keep", action="store_true", help="keep outputs and state in benchmarks/out"
    )
    args = parser.parse_args()
    unknown = set(args.only or []) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    print(run(args.lines, args.keep, args.only).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
