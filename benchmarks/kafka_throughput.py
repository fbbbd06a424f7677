"""Kafka sink throughput: file -> nginx rule -> Kafka next to file -> nginx rule -> file, same run.

    python benchmarks/kafka_throughput.py [--lines 1000000] [--variant NAME:KEY=VALUE,...]...

Generates nginx access-log lines, then runs the agent (`logship run`, a real process) once per
scenario over the same file: to the file sink, and to the Kafka sink against librdkafka's mock
broker (`tests/doubles/kafka_mock.py`, its own process). The agent is measured from /proc while it
runs: wall time until the last record is out (the agent's start-up included), CPU seconds
(user + system, all threads) and peak RSS, read the moment the output count is reached,
before the agent is stopped. The broker's CPU is shown apart: it is the cost of the broker, not
of the agent.

`--sink-only` measures the sinks alone on parsed records (CPU per record, no agent process).

Variants try producer settings: `--variant zstd:producer_options.compression.type=zstd`
or `--variant big:batch.max_events=20000`. Throughput on these shared 2-core machines is noisy:
compare ratios within one run, and repeat (`--repeat`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.agent_run import LineCounter, Measurement, agent_doc, write_config  # noqa: E402
from benchmarks.agent_run import run_agent as run_measured_agent  # noqa: E402
from benchmarks.nginx_log import NGINX_RULE, OUT, ensure_input  # noqa: E402
from benchmarks.nginx_log import lines as nginx_lines  # noqa: E402
from benchmarks.nginx_log import write as write_nginx_log  # noqa: E402
from benchmarks.report import Report  # noqa: E402
from tests.doubles.kafka_mock import MockKafka  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PARTITIONS = 4


@dataclass
class Figures:
    """What one scenario measured."""

    name: str
    lines: int
    seconds: float
    cpu: float
    peak_rss: int
    input_bytes: int
    broker_cpu: float | None = None
    librdkafka_cpu: float = 0.0

    def row(self) -> str:
        rate = self.lines / self.seconds
        mib = self.input_bytes / 2**20 / self.seconds
        broker = f"{self.broker_cpu:7.1f}" if self.broker_cpu is not None else "      -"
        return (
            f"{self.name:<22} {rate:>10,.0f} {mib:>8.1f} {self.seconds:>7.1f} {self.cpu:>7.1f} "
            f"{self.librdkafka_cpu:>7.1f} {self.lines / self.cpu:>10,.0f} "
            f"{self.peak_rss / 2**20:>8.0f} {broker}"
        )


HEADER = (
    f"{'scenario':<22} {'lines/s':>10} {'MiB/s':>8} {'wall s':>7} {'CPU s':>7} {'rdk s':>7} "
    f"{'lines/CPUs':>10} {'RSS MiB':>8} {'brkCPU':>7}"
)
"""CPU s: the agent, all threads; rdk s: its librdkafka threads alone; brkCPU: the mock broker."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class TopicCounter:
    """Messages appended to a topic: the sum of its partitions' high watermarks."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        from confluent_kafka import Consumer

        self.topic = topic
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap_servers, "group.id": "logship-benchmark"}
        )

    def __call__(self) -> int:
        from confluent_kafka import TopicPartition

        return sum(
            self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=10, cached=False
            )[1]
            for p in range(PARTITIONS)
        )

    def close(self) -> None:
        self.consumer.close()


def set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """`producer_options.compression.type=zstd` sets doc["producer_options"]["compression.type"]."""
    head, _, rest = dotted.partition(".")
    if head == "producer_options":
        doc.setdefault("producer_options", {})[rest] = value
    elif rest:
        set_dotted(doc.setdefault(head, {}), rest, value)
    else:
        doc[head] = value


def run_agent(
    workdir: Path,
    name: str,
    log: Path,
    lines: int,
    sink: dict[str, Any],
    counter: Callable[[], int],
    broker_pid: int | None = None,
) -> Figures:
    """Runs the agent until `counter()` reaches `lines`; returns its figures."""
    measured = measure(workdir, name, log, lines, sink, counter, broker_pid)
    broker_cpu = None
    if broker_pid:
        broker_cpu = cpu_seconds(broker_pid) - measured.broker_cpu_before
    m = measured.measurement
    rdk = sum(cpu for thread, cpu in m.threads.items() if thread.startswith("rdk:"))
    return Figures(
        name,
        lines,
        m.wall_s,
        m.cpu_s,
        int(m.peak_rss_mib * 2**20),
        m.input_bytes,
        broker_cpu,
        rdk,
    )


@dataclass
class Measured:
    measurement: Measurement
    broker_cpu_before: float


def measure(
    workdir: Path,
    name: str,
    log: Path,
    lines: int,
    sink: dict[str, Any],
    counter: Callable[[], int],
    broker_pid: int | None = None,
) -> Measured:
    """The agent from `log` to `sink` in workdir/name, measured by `benchmarks.agent_run`."""
    run_dir = workdir / name
    run_dir.mkdir()
    config = write_config(run_dir / "agent.yaml", agent_doc(run_dir, [str(log)], sink))
    before = cpu_seconds(broker_pid) if broker_pid else 0.0
    measurement = run_measured_agent(name, config, lines, log.stat().st_size, counter, timeout=1800)
    return Measured(measurement, before)


def sample_topic(bootstrap_servers: str, topic: str, per_partition: int = 200) -> list[bytes]:
    """The last `per_partition` messages of each partition (older ones the mock may have
    deleted already: it keeps about 5 MiB per partition)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"logship-benchmark-sample-{topic}",
            "enable.auto.commit": False,
        }
    )
    values: list[bytes] = []
    try:
        for partition in range(PARTITIONS):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            start = max(low, high - per_partition)
            if start >= high:
                continue
            consumer.assign([TopicPartition(topic, partition, start)])
            deadline = time.monotonic() + 30
            got = 0
            while got < high - start and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None or message.error():
                    continue
                values.append(message.value())
                got += 1
    finally:
        consumer.close()
    return values


def check_topic(name: str, counter: TopicCounter, bootstrap_servers: str, lines: int) -> str:
    """Count and sample check of a topic: every line once (by count), fields right on a sample."""
    import orjson

    from benchmarks.peers.verify import field_problems

    count = counter()
    rx = re.compile(str(NGINX_RULE["regex"]))
    sample = sample_topic(bootstrap_servers, counter.topic)
    problems = [p for value in sample for p in field_problems(orjson.loads(value), rx)]
    if count != lines:
        problems.insert(0, f"{count:,} messages for {lines:,} lines")
    if problems:
        return f"{name}: OUTPUT WRONG: " + "; ".join(problems[:5])
    return (
        f"{name}: {count:,} messages for {lines:,} lines; fields right on the last {len(sample):,}"
    )


def run(lines: int, keep: bool = False, peers: bool = True) -> Report:
    """Scenario `kafka` of the suite: file -> nginx rule -> Kafka (mock broker in its own
    process); then rsyslog's omkafka on the same log to the same broker, for the ratio."""
    from benchmarks.agent_run import measure_process
    from benchmarks.peers import install, rsyslog

    log = ensure_input(lines)
    work = OUT / "kafka"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report = Report(
        "kafka", f"file -> nginx rule -> Kafka (librdkafka mock broker), {lines:,} lines"
    )
    with MockKafka() as kafka:
        kafka.create_topic("logs", partitions=PARTITIONS)
        counter = TopicCounter(kafka.bootstrap_servers, "logs")
        try:
            sink = {"type": "kafka", "bootstrap_servers": kafka.bootstrap_servers, "topic": "logs"}
            measured = measure(work, "agent file -> kafka", log, lines, sink, counter, kafka.pid)
            broker = cpu_seconds(kafka.pid) - measured.broker_cpu_before
            report.notes.append(check_topic("logship", counter, kafka.bootstrap_servers, lines))
        finally:
            counter.close()
        m = measured.measurement
        rdk = sum(cpu for thread, cpu in m.threads.items() if thread.startswith("rdk:"))
        report.measurements.append(m)
        report.notes.append(
            f"of the agent's {m.cpu_s:.2f} CPU s, librdkafka's threads: {rdk:.2f} s; "
            f"the mock broker process (not counted): {broker:.2f} CPU s"
        )
        peer = install.rsyslog_kafka() if peers else None
        if peer is not None:
            kafka.create_topic("rsyslog", partitions=PARTITIONS)
            state = work / "rsyslog"
            conf = rsyslog.prepare_kafka(log, kafka.bootstrap_servers, "rsyslog", state)
            counter = TopicCounter(kafka.bootstrap_servers, "rsyslog")
            try:
                theirs = measure_process(
                    f"rsyslog {peer.version} omkafka",
                    rsyslog.command(peer, conf, state),
                    lines,
                    log.stat().st_size,
                    counter,
                    log_path=state / "rsyslog.log",
                )
                report.notes.append(check_topic("rsyslog", counter, kafka.bootstrap_servers, lines))
            finally:
                counter.close()
            report.measurements.append(theirs)
            report.notes.append(
                f"logship / rsyslog omkafka: {m.lines_per_s / theirs.lines_per_s:.2f}x lines/s, "
                f"{m.lines_per_cpu_s / theirs.lines_per_cpu_s:.2f}x lines per CPU-second"
            )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def sink_only(lines: int, variants: list[tuple[str, dict[str, Any]]]) -> None:
    """The sinks alone, in this process: parsed records -> send(), CPU per record.

    Isolates what a sink costs from the tailer and parser: the sink thread's CPU (encoding,
    produce calls) and the whole process's (librdkafka's threads compress and send).
    """
    import resource

    from logship.app.sink_registry import build_sink
    from logship.core.batch import Batch
    from logship.core.lines import Lines
    from logship.core.process import tune_malloc
    from parsers.chain import ParserChain
    from parsers.compiler import compile_rule
    from parsers.section import ParsersSettings
    from sinks.file import FileSinkSettings
    from sinks.kafka.config import KafkaSinkSettings

    tune_malloc()  # as the agent does
    texts = [line.rstrip("\n") for line in nginx_lines(lines)]
    parsers = ParsersSettings.model_validate({"rules": [NGINX_RULE]})
    chain = ParserChain([compile_rule(parsers.rule("nginx_combined"), parsers.library)], "host")
    starts = list(range(0, lines * 150, 150))
    info = {"path": "/var/log/nginx/access.log", "device_id": "2049", "inode": "1"}
    entries, _ = chain.parse(Lines(texts, starts, lines * 150), info, "2026-01-01T00:00:00.000Z")
    print(f"{'sink':<22} {'wall s':>7} {'sink thread us/rec':>19} {'process us/rec':>15}")
    with tempfile.TemporaryDirectory(prefix="logship-sink-bench-") as tmp, MockKafka() as kafka:
        scenarios: list[tuple[str, Any]] = [
            (
                "file",
                FileSinkSettings.model_validate(
                    {"name": "f", "type": "file", "path": f"{tmp}/out"}
                ),
            )
        ]
        for index, (name, changes) in enumerate(variants):
            doc: dict[str, Any] = {
                "name": "k",
                "type": "kafka",
                "bootstrap_servers": kafka.bootstrap_servers,
                "topic": f"sink-only-{index}",
            }
            for key, value in changes.items():
                set_dotted(doc, key, value)
            kafka.create_topic(doc["topic"], partitions=PARTITIONS)
            scenarios.append((name, KafkaSinkSettings.model_validate(doc)))
        scenarios.append(scenarios[0])  # the file sink again, last: warm-up effects show
        for name, settings in scenarios:
            sink = build_sink(settings)
            sink.healthcheck()
            sink.send(Batch(entries[:10]))  # connect (and get a producer id) before measuring
            size = settings.batch.max_events
            thread0, wall0 = time.thread_time(), time.monotonic()
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            for start in range(0, lines, size):
                result = sink.send(Batch(entries[start : start + size]))
                if result.retry_only or result.rejected:
                    raise RuntimeError(f"{name}: the send did not deliver everything: {result}")
            wall, thread = time.monotonic() - wall0, time.thread_time() - thread0
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            process = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
            print(
                f"{name:<22} {wall:>7.2f} {thread / lines * 1e6:>19.1f} "
                f"{process / lines * 1e6:>15.1f}",
                flush=True,
            )
            sink.close(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="run every scenario this many times")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="an extra Kafka scenario with sink settings changed (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--sink-only",
        action="store_true",
        help="measure the sinks alone on parsed records (no agent process), then exit",
    )
    args = parser.parse_args(argv)

    variants: list[tuple[str, dict[str, Any]]] = [("kafka", {})]
    for spec in args.variant:
        name, _, assignments = spec.partition(":")
        changes: dict[str, Any] = {}
        for assignment in assignments.split(","):
            key, _, value = assignment.partition("=")
            changes[key.strip()] = yaml.safe_load(value)
        variants.append((f"kafka-{name}", changes))

    if args.sink_only:
        sink_only(args.lines, variants)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="logship-kafka-bench-"))
    log = workdir / "access.log"
    print(f"Generating {args.lines:,} nginx lines in {log} ...", flush=True)
    size = write_nginx_log(str(log), args.lines)
    print(f"{size / 2**20:.1f} MiB. Work folder: {workdir}\n", flush=True)

    results: list[Figures] = []
    with MockKafka() as kafka:
        topic_counter = TopicCounter(kafka.bootstrap_servers, "placeholder")
        try:
            print(HEADER, flush=True)
            for round_ in range(args.repeat):
                suffix = f"#{round_ + 1}" if args.repeat > 1 else ""
                out = workdir / f"file{suffix}.ndjson"
                figures = run_agent(
                    workdir,
                    f"file{suffix}",
                    log,
                    args.lines,
                    {"type": "file", "path": str(out)},
                    LineCounter(out).poll,
                )
                print(figures.row(), flush=True)
                results.append(figures)
                out.unlink()
                for name, changes in variants:
                    topic = f"logs-{name}-{round_}"
                    kafka.create_topic(topic, partitions=PARTITIONS)
                    sink: dict[str, Any] = {
                        "type": "kafka",
                        "bootstrap_servers": kafka.bootstrap_servers,
                        "topic": topic,
                    }
                    for key, value in changes.items():
                        set_dotted(sink, key, value)
                    topic_counter.topic = topic
                    figures = run_agent(
                        workdir,
                        f"{name}{suffix}",
                        log,
                        args.lines,
                        sink,
                        topic_counter,
                        broker_pid=kafka.pid,
                    )
                    print(figures.row(), flush=True)
                    results.append(figures)
        finally:
            topic_counter.close()

    print()
    files = [f for f in results if f.name.startswith("file")]
    file_rate = sum(f.lines / f.seconds for f in files) / len(files)
    file_cpu = sum(f.lines / f.cpu for f in files) / len(files)
    for name, _ in variants:
        runs = [f for f in results if f.name.split("#")[0] == name]
        rate = sum(f.lines / f.seconds for f in runs) / len(runs)
        per_cpu = sum(f.lines / f.cpu for f in runs) / len(runs)
        print(
            f"{name}: {rate / file_rate:.0%} of file -> file throughput (lines/s), "
            f"{per_cpu / file_cpu:.0%} of its lines per CPU-second"
        )
    if not args.keep:
        for path in sorted(workdir.rglob("*"), reverse=True):
            if path.is_file():
                path.unlink()
            else:
                path.rmdir()
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
