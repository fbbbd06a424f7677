"""The agent as a process shipping to a Kafka-protocol broker (librdkafka's mock cluster, own process).

Every test reads the topic back with a concurrent consumer (the mock keeps only ~5 MiB per
partition) that fails loudly if it ever falls behind the broker's retention.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.state.checkpoint import CheckpointError
from logship.state.shard import read_all
from tests.doubles.kafka_mock import MockKafka, TopicReader
from tests.harness import AgentProcess, read_ndjson, wait_until, write_config

RULE = {"name": "numbered", "regex": r"^line (?P<n>\d+) (?P<pad>.*)$", "types": {"n": "int"}}
PAD = "x" * 60
FAST_FAILURE = {"request.timeout.ms": 2000, "reconnect.backoff.max.ms": 500}


def make_config(
    tmp_path: Path,
    kafka: MockKafka,
    sink: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    agent: dict[str, Any] | None = None,
) -> Path:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {
                "data_dir": str(tmp_path / "data"),
                "checkpoint_interval": "200ms",
                **(agent or {}),
            },
            "inputs": [
                {
                    "name": "app",
                    "paths": [str(tmp_path / "logs" / "*.log")],
                    "parsers": ["numbered"],
                    "poll_interval": "50ms",
                    **(inputs or {}),
                }
            ],
            "parsers": [RULE],
            "sinks": [
                {
                    key: value
                    for key, value in {
                        "name": "kafka",
                        "type": "kafka",
                        "bootstrap_servers": kafka.bootstrap_servers,
                        "topic": "logs",
                        **(sink or {}),
                    }.items()
                    if value is not None  # None in `sink` removes a key
                }
            ],
        },
    )


def append_lines(path: Path, start: int, count: int, chunk: int = 5000) -> None:
    with path.open("a") as f:
        for base in range(start, start + count, chunk):
            f.write(
                "".join(f"line {i} {PAD}\n" for i in range(base, min(base + chunk, start + count)))
            )
            f.flush()


def reader_for(kafka: MockKafka, partitions: int = 1) -> TopicReader:
    reader = TopicReader(kafka.bootstrap_servers, "logs", partitions)
    reader.start()
    return reader


def numbers(reader: TopicReader) -> list[int]:
    return [orjson.loads(value)["n"] for _, _, _, value in reader.messages[:]]


def registry_offsets(tmp_path: Path) -> dict[str, int]:
    """Acknowledged offsets by path, from every registry file (one agent or several workers)."""
    try:
        return {cp.path: cp.offset for cp in read_all(tmp_path / "data").values()}
    except CheckpointError:
        return {}


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_200000_lines_arrive_once_with_their_content_and_per_key_order(
    tmp_path: Path, mock_kafka: MockKafka, agents: list[AgentProcess]
) -> None:
    mock_kafka.create_topic("logs", partitions=2)
    config = make_config(tmp_path, mock_kafka, sink={"key": "{log.file.path}"})
    files = [tmp_path / "logs" / "a.log", tmp_path / "logs" / "b.log"]
    for f in files:
        append_lines(f, 0, 100_000)
    reader = reader_for(mock_kafka, partitions=2)
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        wait_until(lambda: reader.count() >= 200_000, timeout=180, message="200,000 messages")
        assert agent.stop() == 0
        assert reader.appended() == 200_000  # a clean run ships every line exactly once
    finally:
        reader.stop()
    by_key: dict[bytes | None, list[dict[str, Any]]] = defaultdict(list)
    for _, _, key, value in sorted(reader.messages, key=lambda m: (m[0], m[1])):
        by_key[key].append(orjson.loads(value))
    assert set(by_key) == {str(f).encode() for f in files}
    for f in files:
        got = by_key[str(f).encode()]
        assert [r["n"] for r in got] == list(range(100_000)), f"order or content broken in {f}"
        assert all(r["message"] == f"line {r['n']} {PAD}" and r["pad"] == PAD for r in got)
        assert all(r["log"]["file"]["path"] == str(f) for r in got)
        line_bytes = len(f"line 0 {PAD}\n")
        assert got[10]["log"]["offset"] == 10 * line_bytes
    assert registry_offsets(tmp_path) == {str(f): f.stat().st_size for f in files}


def test_a_frozen_broker_holds_memory_and_checkpoints_and_every_line_arrives_after(
    tmp_path: Path, mock_kafka: MockKafka, agents: list[AgentProcess]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    config = make_config(
        tmp_path,
        mock_kafka,
        sink={"message_timeout": "3s", "producer_options": FAST_FAILURE},
    )
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 20_000)
    reader = reader_for(mock_kafka)
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        wait_until(lambda: reader.count() >= 20_000, timeout=120, message="lines before the outage")
        wait_until(
            lambda: registry_offsets(tmp_path).get(str(log)) == log.stat().st_size,
            timeout=30,
            message="checkpoint of the lines before the outage",
        )
        delivered_up_to = log.stat().st_size
        rss_before = rss_bytes(agent.pid)
        mock_kafka.freeze()
        try:
            # 300,000 lines (~21 MB of log, far more as records) while Kafka hangs.
            append_lines(log, 20_000, 300_000)
            peak_rss = rss_before
            offsets_seen: list[int] = []

            def failing_noticed() -> bool:
                nonlocal peak_rss
                peak_rss = max(peak_rss, rss_bytes(agent.pid))
                offsets_seen.append(registry_offsets(tmp_path).get(str(log), 0))
                return any(
                    e.get("message") == "Sink failing; retrying with backoff." for e in agent.logs()
                )

            # Longer than request.timeout.ms (2s) and message_timeout (3s): sends time out.
            wait_until(failing_noticed, timeout=60, interval=0.2, message="the sink to fail")
            frozen_until = time.monotonic() + 2.0
            wait_until(lambda: not failing_noticed() or time.monotonic() > frozen_until, timeout=30)
        finally:
            mock_kafka.thaw()
        assert agent.running()
        assert max(offsets_seen) <= delivered_up_to, "checkpoint passed undelivered lines"
        growth = peak_rss - rss_before
        print(f"RSS before the outage {rss_before >> 20} MiB, peak during it {peak_rss >> 20} MiB")
        assert growth < 120 * 2**20, f"memory grew by {growth >> 20} MiB while Kafka was frozen"

        wait_until(
            lambda: len(set(numbers(reader))) >= 320_000,
            timeout=240,
            message="every line after the outage",
        )
        assert agent.stop() == 0
    finally:
        reader.stop()
    got = numbers(reader)
    assert set(got) == set(range(320_000)), "a line was lost"
    print(f"{len(got) - 320_000} duplicates after the outage")
    assert registry_offsets(tmp_path)[str(log)] == log.stat().st_size


def test_kill_9_mid_stream_loses_nothing_and_duplicates_are_bounded(
    tmp_path: Path, mock_kafka: MockKafka, agents: list[AgentProcess]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    config = make_config(tmp_path, mock_kafka)
    log = tmp_path / "logs" / "app.log"
    total = 100_000
    # Half the lines before the crash, half after: the agent may have shipped all it had by
    # the time the crash comes (it reads ~300,000 lines/s), and the restarted one must have
    # work left, so that it is running, not starting, when it is stopped.
    append_lines(log, 0, total // 2)
    reader = reader_for(mock_kafka)
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        wait_until(lambda: reader.count() >= 30_000, timeout=120, message="lines before the crash")
        agent.kill()
        # The in-flight window: what the broker holds at or past the checkpoint the dead agent
        # left (acknowledged or not: a produce whose answer never came is kept too).
        appended = reader.appended()
        with log.open("rb") as f:
            checkpointed = f.read(registry_offsets(tmp_path).get(str(log), 0)).count(b"\n")
        assert checkpointed <= appended, "the checkpoint passed a line Kafka did not hold"
        window = appended - checkpointed
        append_lines(log, total // 2, total - total // 2)

        def starts() -> int:
            return sum(e.get("message") == "Agent started." for e in agent.logs())

        before = starts()
        agent.start()
        wait_until(lambda: starts() > before, message="the restarted agent")
        wait_until(
            lambda: len(set(numbers(reader))) >= total, timeout=180, message="every line after"
        )
        assert agent.stop() == 0
    finally:
        reader.stop()
    got = numbers(reader)
    assert set(got) == set(range(total)), "a line was lost"
    duplicates = len(got) - total
    print(f"{duplicates} duplicates after kill -9")
    # Only that window is sent again; how wide it is depends on the machine (checkpoint writes
    # wait for fsync), so it is measured, not fixed.
    assert duplicates <= window, f"{duplicates} duplicates, {window} lines in flight at the kill"
    assert max(Counter(got).values()) <= 2
    first_seen = list(dict.fromkeys(got))
    assert first_seen == list(range(total)), "the first arrival of each line is in file order"


def test_sigterm_while_kafka_hangs_exits_without_checkpointing_undelivered_lines(
    tmp_path: Path, mock_kafka: MockKafka, agents: list[AgentProcess]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    config = make_config(
        tmp_path,
        mock_kafka,
        sink={"message_timeout": "2s", "shutdown_timeout": "2s", "producer_options": FAST_FAILURE},
        agent={"shutdown_timeout": "3s"},
    )
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 1000)
    reader = reader_for(mock_kafka)
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        wait_until(lambda: reader.count() >= 1000, timeout=60, message="lines before the hang")
        wait_until(
            lambda: registry_offsets(tmp_path).get(str(log)) == log.stat().st_size,
            timeout=30,
            message="checkpoint before the hang",
        )
        delivered_up_to = log.stat().st_size
        mock_kafka.freeze()
        try:
            append_lines(log, 1000, 50_000)
            agent.wait_for_log("Sink failing; retrying with backoff.")
            assert agent.stop(timeout=60) == 0  # gives up on Kafka instead of hanging
            assert registry_offsets(tmp_path)[str(log)] <= delivered_up_to
        finally:
            mock_kafka.thaw()
        agent.start()
        wait_until(lambda: len(set(numbers(reader))) >= 51_000, timeout=120, message="every line")
        assert agent.stop() == 0
    finally:
        reader.stop()
    assert set(numbers(reader)) == set(range(51_000))


def test_a_line_over_message_max_bytes_is_dead_lettered_and_the_rest_flows(
    tmp_path: Path, mock_kafka: MockKafka, agents: list[AgentProcess]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    config = make_config(
        tmp_path,
        mock_kafka,
        sink={"producer_options": {"message.max.bytes": 100_000}},
        inputs={"max_line_bytes": "1MiB"},
    )
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 500)
    with log.open("a") as f:
        f.write(f"line 500 {'y' * 200_000}\n")
    append_lines(log, 501, 499)
    reader = reader_for(mock_kafka)
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        wait_until(lambda: reader.count() >= 999, timeout=60, message="every other line")
        dead = tmp_path / "data" / "dead-letter" / "kafka.jsonl"
        wait_until(
            lambda: registry_offsets(tmp_path).get(str(log)) == log.stat().st_size,
            timeout=30,
            message="the dead-lettered line acknowledged",
        )
        assert agent.stop() == 0
    finally:
        reader.stop()
    assert sorted(numbers(reader)) == [n for n in range(1000) if n != 500]
    (letter,) = read_ndjson(dead)
    assert letter["sink"] == "kafka"
    assert letter["record"]["n"] == 500
    assert letter["reason"].startswith("MSG_SIZE_TOO_LARGE")


def test_unreachable_kafka_at_start_keeps_the_agent_running_until_it_is_back(
    tmp_path: Path, mock_kafka: MockKafka, agents: list[AgentProcess]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    mock_kafka.broker_down()
    config = make_config(
        tmp_path,
        mock_kafka,
        sink={"message_timeout": "3s", "metadata_timeout": "1s", "producer_options": FAST_FAILURE},
    )
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 1000)
    agent = AgentProcess(config).start()
    agents.append(agent)
    reader = reader_for(mock_kafka)
    try:
        warning = agent.wait_for_log("Kafka is unreachable; the agent keeps running and retrying.")
        assert warning["bootstrap_servers"] == mock_kafka.bootstrap_servers
        agent.wait_for_log("Agent started.")
        agent.wait_for_log("Sink failing; retrying with backoff.")
        assert registry_offsets(tmp_path).get(str(log), 0) == 0
        mock_kafka.broker_up()
        wait_until(lambda: len(set(numbers(reader))) >= 1000, timeout=60, message="the lines")
        agent.wait_for_log("Sink recovered.")
        assert agent.stop() == 0
    finally:
        reader.stop()
    assert set(numbers(reader)) == set(range(1000))


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        (
            {"producer_options": {"lingr.ms": 5}},
            "sinks[0].producer_options (kafka): unknown librdkafka property 'lingr.ms'",
        ),
        (
            {"bootstrap_servers": None},
            "sinks[0].bootstrap_servers (kafka): required key is missing",
        ),
    ],
)
def test_the_agent_refuses_to_start_on_a_bad_kafka_config(
    tmp_path: Path,
    mock_kafka: MockKafka,
    agents: list[AgentProcess],
    sink: dict[str, Any],
    expected: str,
) -> None:
    agent = AgentProcess(make_config(tmp_path, mock_kafka, sink=sink)).start()
    agents.append(agent)
    assert agent.wait(timeout=60) == 2
    assert expected in agent.stderr_text()
