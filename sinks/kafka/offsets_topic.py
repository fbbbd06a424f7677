"""The offsets topic of exactly-once delivery: created compacted, read back at start-up.

Reading back: every partition from its start, `isolation.level=read_committed` (a checkpoint of
an aborted transaction is not one), keeping the latest value per key under the agent's prefix.
The end is the high watermark reported at the start of the read; since some brokers report it
short (Tansu, when a batch holds several records), the read also goes on until nothing more
arrives for a moment.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from sinks.kafka.client_log import ClientLog
from sinks.kafka.producer import exception_text

log = logging.getLogger("sinks.kafka.sink")

_QUIET_AFTER_END = 0.3
"""Seconds without a message, once at the reported end, that end the read."""
_QUIET_ANYWAY = 3.0
"""Seconds without a message that end the read even short of the reported end."""


def ensure_compacted_topic(
    config: dict[str, Any], topic: str, sink_name: str, timeout: float
) -> None:
    """Creates `topic` compacted when it does not exist; a broker that refuses is logged (the
    topic is then auto-created on the first commit, possibly not compacted)."""
    admin_config: dict[str, Any] = {**_client_config(config), "logger": ClientLog(sink_name)}
    admin = AdminClient(admin_config)
    try:
        found = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return
        futures = admin.create_topics(
            [NewTopic(topic, 1, config={"cleanup.policy": "compact"})],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        futures[topic].result(timeout=timeout)
        log.info("Offsets topic created (compacted).", extra={"sink": sink_name, "topic": topic})
    except Exception as exc:  # KafkaException, or a timeout from a broker without admin APIs
        text = exception_text(exc) if isinstance(exc, KafkaException) else str(exc)
        log.warning(
            "Could not create the offsets topic; create it with cleanup.policy=compact.",
            extra={"sink": sink_name, "topic": topic, "error": text},
        )


def read_offsets(
    config: dict[str, Any], topic: str, prefix: bytes, sink_name: str, timeout: float
) -> list[tuple[bytes, bytes]]:
    """The latest committed value of every key under `prefix`. Raises KafkaException (or
    TimeoutError) when the topic cannot be read within `timeout` seconds."""
    consumer = Consumer(
        {
            **_client_config(config),
            "group.id": f"logship-offsets-{sink_name}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
            "logger": ClientLog(sink_name),
        }
    )
    try:
        return _read(consumer, topic, prefix, time.monotonic() + timeout)
    finally:
        consumer.close()


def _read(
    consumer: Consumer, topic: str, prefix: bytes, deadline: float
) -> list[tuple[bytes, bytes]]:
    metadata = consumer.list_topics(topic=topic, timeout=max(0.1, deadline - time.monotonic()))
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        return []  # no offsets topic yet: nothing was ever committed
    ends: dict[int, int] = {}
    for partition in found.partitions:
        _, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=max(0.1, deadline - time.monotonic())
        )
        ends[partition] = high
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    latest: dict[bytes, bytes] = {}
    reached = {p: ends[p] <= 0 for p in ends}
    last_message = time.monotonic()
    while True:
        now = time.monotonic()
        quiet = now - last_message
        if (all(reached.values()) and quiet >= _QUIET_AFTER_END) or quiet >= _QUIET_ANYWAY:
            return list(latest.items())
        if now >= deadline:
            raise TimeoutError(f"reading the offsets topic {topic!r} took too long")
        for message in consumer.consume(num_messages=10_000, timeout=0.1):
            if message.error() is not None:
                continue  # partition EOF and the like; real trouble shows as a timeout
            last_message = time.monotonic()
            key = message.key()
            value = message.value()
            partition = message.partition() or 0
            if (message.offset() or 0) + 1 >= ends.get(partition, 0):
                reached[partition] = True
            if key is not None and key.startswith(prefix):
                if value is None:
                    latest.pop(key, None)  # a tombstone
                else:
                    latest[key] = value


def _client_config(producer_config: dict[str, Any]) -> dict[str, Any]:
    """The connection settings of the producer (servers, TLS, SASL) for another client."""
    keep = ("bootstrap.servers", "security.", "ssl.", "sasl.", "client.id", "socket.", "broker.")
    return {k: v for k, v in producer_config.items() if k.startswith(keep)}
