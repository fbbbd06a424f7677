"""Kafka exactly-once vs at-least-once: file -> nginx rule -> Kafka, both modes in one run.

    python benchmarks/kafka_exactly_once.py [--lines 300000] [--repeat 3]

The agent (`logship run`, a real process) ships the same nginx log to librdkafka's mock broker
(its own process) with `delivery: at_least_once` and with `delivery: exactly_once`, alternating
the order round by round. A run ends when the registry says every byte is checkpointed (in
exactly_once mode the local registry holds only committed transactions, so both modes end at
"durably delivered"). Each topic is read concurrently by a read_committed consumer that fails
on an offset reset: the count must equal the lines, no more, no less. Wall time includes the
agent's start-up; CPU is the agent's (all threads), not the broker's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.agent_run import RegistryProgress, agent_doc, write_config  # noqa: E402
from benchmarks.agent_run import run_agent as run_measured_agent  # noqa: E402
from benchmarks.nginx_log import write as write_nginx_log  # noqa: E402
from tests.doubles.committed_reader import CommittedReader  # noqa: E402
from tests.doubles.kafka_mock import MockKafka  # noqa: E402
from tests.harness import wait_until  # noqa: E402

PARTITIONS = 4
MODES = ("at_least_once", "exactly_once")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="logship-eos-bench-"))
    log = work / "access.log"
    size = write_nginx_log(str(log), args.lines)
    print(f"{args.lines:,} nginx lines, {size / 2**20:.1f} MiB; work folder {work}\n")
    print(f"{'run':<20} {'lines/s':>10} {'CPU s':>7} {'lines/CPU-s':>12} {'wall s':>7} {'read':>9}")
    figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    with MockKafka() as kafka:
        for round_ in range(args.repeat):
            order = MODES if round_ % 2 == 0 else MODES[::-1]
            for mode in order:
                name = f"{mode}#{round_ + 1}"
                topic = f"logs-{mode}-{round_}"
                kafka.create_topic(topic, PARTITIONS)
                reader = CommittedReader(kafka.bootstrap_servers, topic)
                reader.start()
                run_dir = work / name
                run_dir.mkdir()
                sink = {
                    "type": "kafka",
                    "bootstrap_servers": kafka.bootstrap_servers,
                    "topic": topic,
                    "delivery": mode,
                    "offsets_topic": f"offsets-{round_}",
                }
                doc = agent_doc(run_dir, [str(log)], sink, checkpoint_interval="100ms")
                config = write_config(run_dir / "agent.yaml", doc)
                try:
                    m = run_measured_agent(
                        name,
                        config,
                        args.lines,
                        size,
                        RegistryProgress(run_dir / "data").poll,
                        target=size,
                        timeout=900,
                    )
                    wait_until(lambda r=reader: r.count() >= args.lines, timeout=120)
                finally:
                    reader.stop()
                read = reader.count()
                if read != args.lines:
                    raise SystemExit(f"{name}: {read:,} records read for {args.lines:,} lines")
                figures[mode].append((m.lines_per_s, m.lines_per_cpu_s))
                print(
                    f"{name:<20} {m.lines_per_s:>10,.0f} {m.cpu_s:>7.2f} "
                    f"{m.lines_per_cpu_s:>12,.0f} {m.wall_s:>7.2f} {read:>9,}",
                    flush=True,
                )
    shutil.rmtree(work, ignore_errors=True)
    base_rate = sum(r for r, _ in figures["at_least_once"]) / args.repeat
    base_cpu = sum(c for _, c in figures["at_least_once"]) / args.repeat
    rate = sum(r for r, _ in figures["exactly_once"]) / args.repeat
    cpu = sum(c for _, c in figures["exactly_once"]) / args.repeat
    print(
        f"\nmean at_least_once: {base_rate:,.0f} lines/s, {base_cpu:,.0f} lines/CPU-s"
        f"\nmean exactly_once:  {rate:,.0f} lines/s, {cpu:,.0f} lines/CPU-s"
        f"\nexactly_once / at_least_once: {rate / base_rate:.0%} lines/s, "
        f"{cpu / base_cpu:.0%} lines per CPU-second"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
