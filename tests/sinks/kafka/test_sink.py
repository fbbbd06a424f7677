"""KafkaSink against a real Kafka-protocol broker (librdkafka's mock cluster in another process)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from logship.app.sink_registry import build_sink
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import Outcome, SinkError
from sinks.kafka.config import KafkaSinkSettings
from sinks.kafka.sink import KafkaSink
from tests.doubles.kafka_mock import (
    API_PRODUCE,
    ERR_MSG_SIZE_TOO_LARGE,
    ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
    ERR_TOPIC_AUTHORIZATION_FAILED,
    MockKafka,
    TopicReader,
)
from tests.harness import wait_until

FAST_FAILURE = {"request.timeout.ms": 1000, "reconnect.backoff.max.ms": 500}
"""Broker-down tests: requests and messages time out in seconds, not librdkafka's defaults."""


def settings(kafka: MockKafka, **overrides: Any) -> KafkaSinkSettings:
    doc: dict[str, Any] = {
        "name": "kafka",
        "type": "kafka",
        "bootstrap_servers": kafka.bootstrap_servers,
        "topic": "logs",
        "message_timeout": "3s",
        "metadata_timeout": "5s",
        **overrides,
    }
    return KafkaSinkSettings.model_validate(doc)


@pytest.fixture
def sinks() -> Iterator[list[KafkaSink]]:
    """Sinks a test creates; closed at the end so no producer threads outlive the test."""
    made: list[KafkaSink] = []
    yield made
    for sink in made:
        sink.close(5)


def make_sink(sinks: list[KafkaSink], kafka: MockKafka, **overrides: Any) -> KafkaSink:
    sink = KafkaSink(settings(kafka, **overrides))
    sinks.append(sink)
    return sink


def records(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"n": i, "message": f"line {i}", **fields} for i in range(count)]


def read(kafka: MockKafka, topic: str, count: int, partitions: int = 1) -> TopicReader:
    reader = TopicReader(kafka.bootstrap_servers, topic, partitions)
    reader.start()
    try:
        wait_until(lambda: reader.count() >= count, timeout=60, message=f"{count} on {topic}")
    finally:
        reader.stop()
    return reader


def test_a_delivered_batch_is_on_the_topic_as_json_in_order(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    sink = make_sink(sinks, mock_kafka)
    sink.healthcheck()
    assert sink.ready
    batch = records(3000)
    assert sink.send(Batch(batch)).outcome is Outcome.DELIVERED
    reader = read(mock_kafka, "logs", 3000)
    assert reader.values() == batch
    assert reader.messages[0][3] == orjson.dumps(batch[0])  # compact JSON, no newline


def test_topic_and_key_templates_route_records_and_missing_fields_use_the_default(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    for topic in ("logs-shop", "logs-auth", "logs-misc"):
        mock_kafka.create_topic(topic, partitions=1)
    sink = make_sink(
        sinks,
        mock_kafka,
        topic="logs-{service.name}",
        default_topic="logs-misc",
        key="{host.name:-nohost}",
    )
    batch = (
        records(10, service={"name": "shop"}, host={"name": "node-1"})
        + records(5, service={"name": "auth"})
        + records(3)
        + records(2, service={"name": "bad name"})  # renders an invalid topic: rejected
    )
    result = sink.send(Batch(batch))
    assert result.outcome is Outcome.DELIVERED
    assert [i for i, _ in result.rejected] == [18, 19]
    assert all("'logs-bad name' is not a valid topic name" in r for _, r in result.rejected)
    shop = read(mock_kafka, "logs-shop", 10)
    assert [m[2] for m in shop.messages] == [b"node-1"] * 10
    assert [m[2] for m in read(mock_kafka, "logs-auth", 5).messages] == [b"nohost"] * 5
    assert read(mock_kafka, "logs-misc", 3).values() == batch[15:18]


def test_records_with_the_same_key_stay_in_one_partition_in_order(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=4)
    sink = make_sink(sinks, mock_kafka, key="{pod}")
    pods = [f"pod-{p}" for p in range(8)]
    for start in range(0, 4000, 1000):
        batch = [{"pod": pods[i % 8], "n": i} for i in range(start, start + 1000)]
        assert sink.send(Batch(batch)).outcome is Outcome.DELIVERED
    reader = read(mock_kafka, "logs", 4000, partitions=4)
    by_key: dict[bytes | None, list[int]] = defaultdict(list)
    partitions: dict[bytes | None, set[int]] = defaultdict(set)
    for partition, _, key, value in sorted(reader.messages[:], key=lambda m: (m[0], m[1])):
        by_key[key].append(orjson.loads(value)["n"])
        partitions[key].add(partition)
    assert len(by_key) == 8
    for key, numbers in by_key.items():
        assert numbers == sorted(numbers), f"order broken for {key!r}"
        assert len(numbers) == 500
        assert len(partitions[key]) == 1


def test_a_record_over_message_max_bytes_is_rejected_and_the_rest_delivered(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    sink = make_sink(sinks, mock_kafka, producer_options={"message.max.bytes": 10_000})
    batch = records(100)
    batch[40]["message"] = "x" * 20_000
    result = sink.send(Batch(batch))
    assert result.outcome is Outcome.DELIVERED
    ((index, reason),) = result.rejected
    assert index == 40
    assert reason.startswith("MSG_SIZE_TOO_LARGE")
    assert [r["n"] for r in read(mock_kafka, "logs", 99).values()] == [
        n for n in range(100) if n != 40
    ]


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (ERR_MSG_SIZE_TOO_LARGE, "MSG_SIZE_TOO_LARGE"),
        (ERR_TOPIC_AUTHORIZATION_FAILED, "TOPIC_AUTHORIZATION_FAILED"),
    ],
)
def test_permanent_errors_in_delivery_reports_reject_those_records_and_deliver_the_rest(
    mock_kafka: MockKafka, sinks: list[KafkaSink], error: int, name: str
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    # Small message sets, so that the batch takes several Produce requests and only one fails.
    sink = make_sink(sinks, mock_kafka, producer_options={"batch.num.messages": 50})
    assert sink.send(Batch(records(10))).outcome is Outcome.DELIVERED  # connected, PID acquired
    mock_kafka.request_errors(API_PRODUCE, [error])
    batch = records(500, phase=2)
    result = sink.send(Batch(batch))
    rejected = {i for i, _ in result.rejected}
    assert rejected, "the injected error reached no record"
    assert all(r.startswith(name) for _, r in result.rejected)
    if result.outcome is Outcome.RETRY:  # librdkafka may hold back the rest of the partition
        assert set(result.retry_only).isdisjoint(rejected)
        retry = [batch[i] for i in result.retry_only]
        assert sink.send(Batch(retry)).outcome is Outcome.DELIVERED
    # Every record is either on the topic or rejected with its reason: none unaccounted for.
    delivered = read(mock_kafka, "logs", 10 + 500 - len(rejected)).values()[10:]
    assert sorted(r["n"] for r in delivered) == [n for n in range(500) if n not in rejected]
    print(f"{name}: {len(rejected)} of 500 rejected, {result.outcome}")


def test_a_fatal_producer_error_replaces_the_producer_and_the_batch_is_resent(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    sink = make_sink(sinks, mock_kafka)
    assert sink.send(Batch(records(10))).outcome is Outcome.DELIVERED
    first_producer = sink.producer.current
    # The broker loses the idempotent producer's sequence: librdkafka raises a fatal error.
    mock_kafka.request_errors(API_PRODUCE, [ERR_OUT_OF_ORDER_SEQUENCE_NUMBER])
    batch = records(100, phase=2)
    result = sink.send(Batch(batch))
    assert result.outcome is Outcome.RETRY
    assert "OUT_OF_ORDER_SEQUENCE_NUMBER" in result.reason
    assert list(result.retry_only) == list(range(100))  # nothing known to be delivered
    assert sink.send(Batch(batch)).outcome is Outcome.DELIVERED
    assert sink.producer.current is not first_producer
    delivered = read(mock_kafka, "logs", 110).values()
    assert {r["n"] for r in delivered[10:]} == set(range(100))


def test_a_full_local_queue_waits_for_room_and_drops_nothing(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    metrics = Metrics()
    sink = build_sink(
        settings(mock_kafka, producer_options={"queue.buffering.max.messages": 100}), metrics
    )
    assert isinstance(sink, KafkaSink)
    sinks.append(sink)
    batch = records(5000)
    assert sink.send(Batch(batch)).outcome is Outcome.DELIVERED
    assert sink.buffer_full_waits > 0
    waits = metrics.registry.get_sample_value(
        "logship_sink_buffer_full_waits_total", {"sink": "kafka"}
    )
    assert waits == sink.buffer_full_waits
    assert read(mock_kafka, "logs", 5000).values() == batch


def test_a_down_broker_makes_send_retry_everything_then_deliver_when_it_is_back(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    sink = make_sink(sinks, mock_kafka, message_timeout="2s", producer_options=FAST_FAILURE)
    assert sink.send(Batch(records(5))).outcome is Outcome.DELIVERED
    assert sink.ready
    mock_kafka.broker_down()
    batch = records(50, phase=2)
    result = sink.send(Batch(batch))  # returns: librdkafka reports a timeout per message
    assert result.outcome is Outcome.RETRY
    assert list(result.retry_only) == list(range(50))
    assert "_MSG_TIMED_OUT" in result.reason
    assert not sink.ready
    mock_kafka.broker_up()
    result = wait_until(
        lambda: (r := sink.send(Batch(batch))).outcome is Outcome.DELIVERED and r,
        timeout=60,
        message="delivery after the broker is back",
    )
    assert sink.ready
    values = read(mock_kafka, "logs", 55).values()
    assert {r["n"] for r in values[5:]} == set(range(50))


def test_unreachable_kafka_at_start_is_logged_not_raised(sinks: list[KafkaSink]) -> None:
    sink = KafkaSink(
        KafkaSinkSettings.model_validate(
            {
                "name": "kafka",
                "type": "kafka",
                "bootstrap_servers": ["127.0.0.1:1"],  # nothing listens on port 1
                "topic": "logs",
                "metadata_timeout": "1s",
            }
        )
    )
    sinks.append(sink)
    sink.healthcheck()
    assert not sink.ready
    assert sink.last_error


def test_settings_the_producer_cannot_be_built_from_raise_sink_error(
    mock_kafka: MockKafka, sinks: list[KafkaSink], tmp_path: Any
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"ssl\.ca\.location"):  # caught when the config loads
        settings(
            mock_kafka, producer_options={"security.protocol": "ssl", "ssl.ca.location": str(ca)}
        )
    sink = make_sink(sinks, mock_kafka)
    # The same problem appearing after the config loaded (the file changed): not startable.
    sink.producer.config = {
        **sink.producer.config,
        "security.protocol": "ssl",
        "ssl.ca.location": str(ca),
    }
    with pytest.raises(SinkError, match="cannot create the Kafka producer"):
        sink.healthcheck()


def test_close_gives_up_within_its_timeout_when_kafka_is_gone(
    mock_kafka: MockKafka, sinks: list[KafkaSink]
) -> None:
    mock_kafka.create_topic("logs", partitions=1)
    sink = make_sink(sinks, mock_kafka, producer_options=FAST_FAILURE)
    assert sink.send(Batch(records(5))).outcome is Outcome.DELIVERED
    mock_kafka.freeze()
    try:
        producer = sink.producer.current
        assert producer is not None
        for record in records(100):
            producer.produce("logs", orjson.dumps(record))
        sink.close(1.0)  # returns; the 100 undelivered messages were never acknowledged
        assert sink.producer.current is None
        assert sink.send(Batch(records(1))).outcome is Outcome.RETRY  # closed: nothing accepted
    finally:
        mock_kafka.thaw()
