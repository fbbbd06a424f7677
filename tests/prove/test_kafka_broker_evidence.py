"""What the two brokers here do with transactions, as seen by a read_committed consumer.

The Kafka exactly-once proof (tests/prove/kafka_transactions.py) rests on these facts; each
assertion says what to change there if a broker ever behaves otherwise. One producer, one
partition: commit 50 records (two requests of 25), abort one, commit one, then leave a transaction
open (as a killed agent does) and let a second producer with the same transactional.id take
over and commit one more. Measured (confluent-kafka 2.16, Tansu 0.6):

- both return the aborted records to read_committed consumers (Apache Kafka would not);
- on both, each commit or abort marker takes one offset (a gap the consumer sees), and the
  records of one transaction take consecutive offsets, within a request and across requests
  (Tansu's high watermark is wrong for multi-record batches, its offsets are not);
- the takeover writes an abort marker on Tansu (a gap), but not on the mock cluster: there
  the open transaction's records run on into the next transaction's without a gap;
- both keep the producer's timestamps (CreateTime), by which the proof cuts runs at kills.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    Producer,
    TopicPartition,
)

from tests.doubles.kafka_mock import _QUIET, MockKafka
from tests.doubles.tansu import Tansu, tansu_binary
from tests.harness import wait_until
from tests.prove.kafka_target import create_topic

TOPIC = "probe"
COMMITTED_1 = [b"committed-1.%d" % i for i in range(50)]
ABORTED = b"aborted"
COMMITTED_2 = b"committed-2"
LEFT_OPEN = b"left-open"
AFTER_TAKEOVER = b"after-takeover"
TIGHTEN = (
    "now hides aborted records from read_committed consumers: the crash-loop proof can assert "
    "0 duplicates outright (drop the removal of uncommitted runs in "
    "tests/prove/kafka_transactions.py for this broker, and update docs/exactly-once.md)"
)


@pytest.fixture(params=["mock cluster", "Tansu"])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(name, bootstrap servers) of each broker with a one-partition topic; Tansu when installed."""
    if request.param == "mock cluster":
        with MockKafka() as kafka:
            kafka.create_topic(TOPIC, 1)
            yield request.param, kafka.bootstrap_servers
        return
    binary = tansu_binary()
    if binary is None:
        pytest.skip("Tansu is not installed (make tansu)")
    with Tansu(binary) as tansu:
        create_topic(tansu.bootstrap_servers, TOPIC, 1)
        yield request.param, tansu.bootstrap_servers


def producer(servers: str) -> Producer:
    """A transactional producer, initialised (taking the id over from any earlier one)."""
    made = Producer(
        {"bootstrap.servers": servers, "transactional.id": "evidence", "logger": _QUIET}
    )
    made.init_transactions(30)
    return made


def transaction(producer: Producer, values: list[bytes], end: str, requests: int = 1) -> None:
    """One transaction of `values` in `requests` produce requests (flushed apart), then `end`."""
    producer.begin_transaction()
    size = -(-len(values) // requests)
    for start in range(0, len(values), size):
        for value in values[start : start + size]:
            producer.produce(TOPIC, value, partition=0)
        producer.flush(30)
    if end == "commit":
        producer.commit_transaction(30)
    elif end == "abort":
        producer.abort_transaction(30)


def read_committed(servers: str) -> list[tuple[int, int, int, bytes]]:
    """(offset, timestamp type, timestamp, value) up to the last record produced."""
    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": "evidence",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "logger": _QUIET,
        }
    )
    consumer.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
    got: list[tuple[int, int, int, bytes]] = []

    def read_to_the_end() -> bool:
        for msg in consumer.consume(100, 0.2):
            if msg.error() is None:
                kind, ts = msg.timestamp()
                got.append((msg.offset() or 0, kind, ts, msg.value() or b""))
        return bool(got) and got[-1][3] == AFTER_TAKEOVER

    try:
        wait_until(read_to_the_end, timeout=20, message="the consumer to reach the last record")
    finally:
        consumer.close()
    return got


def test_read_committed_sees_aborted_records_and_markers_leave_gaps_in_offsets(
    broker: tuple[str, str],
) -> None:
    name, servers = broker
    before = int(time.time() * 1000)
    first = producer(servers)
    transaction(first, COMMITTED_1, "commit", requests=2)
    transaction(first, [ABORTED], "abort")
    transaction(first, [COMMITTED_2], "commit")
    transaction(first, [LEFT_OPEN], "open")  # as a killed agent leaves it
    transaction(producer(servers), [AFTER_TAKEOVER], "commit")
    after = int(time.time() * 1000)

    got = read_committed(servers)
    offsets = {value: offset for offset, _, _, value in got}
    print(f"{name}: {[(offset, value) for offset, _, _, value in got[len(COMMITTED_1) - 1 :]]}")
    assert ABORTED in offsets, f"{name} {TIGHTEN}"
    assert LEFT_OPEN in offsets, f"{name} {TIGHTEN}"
    # Offsets: 0-49 committed-1 (two requests, consecutive), 50 its commit marker, 51 aborted,
    # 52 the abort marker, 53 committed-2, 54 its marker, 55 left-open, then the takeover.
    takeover_marker = name == "Tansu"
    expected = {
        **{value: i for i, value in enumerate(COMMITTED_1)},
        ABORTED: 51,
        COMMITTED_2: 53,
        LEFT_OPEN: 55,
        AFTER_TAKEOVER: 57 if takeover_marker else 56,
    }
    assert offsets == expected, (
        f"{name} numbers transaction markers differently than tests/prove/kafka_transactions.py "
        f"assumes (a gap per marker; an abort marker at takeover: {takeover_marker})"
    )
    assert all(kind == TIMESTAMP_CREATE_TIME and before <= ts <= after for _, kind, ts, _ in got), (
        f"{name} does not keep the producer's timestamps; the proof cuts runs at kills by them"
    )
