"""A read_committed consumer of every partition of a topic, reading while the test produces.

Works with any Kafka-protocol broker (the mock cluster, Tansu): partitions come from metadata,
partitions are assigned (no consumer-group join, which takes Tansu ~23 s), and an offset reset
(the data was gone before it was read) is recorded in `error` instead of skipping ahead.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.doubles.kafka_mock import _QUIET


class CommittedReader(threading.Thread):
    """Consumes `topic` from the beginning with isolation.level=read_committed."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        super().__init__(name=f"committed-reader-{topic}", daemon=True)
        from confluent_kafka import Consumer

        self.topic = topic
        self.messages: list[tuple[int, int, bytes | None, bytes]] = []
        """(partition, offset, key, value) in arrival order."""
        self.error: str | None = None
        self._stop_event = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": f"logship-test-committed-{topic}",
                "enable.auto.commit": False,
                "auto.offset.reset": "error",
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
                "topic.metadata.refresh.interval.ms": 500,
                "logger": _QUIET,
            }
        )

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        consumer = self._consumer
        assigned: set[int] = set()
        try:
            while not self._stop_event.is_set():
                # The topic may not exist yet, or be auto-created later with more partitions.
                found = consumer.list_topics(topic=self.topic, timeout=5).topics.get(self.topic)
                partitions = (
                    set(found.partitions) if found is not None and found.error is None else set()
                )
                if partitions - assigned:
                    assigned |= partitions
                    consumer.assign(
                        [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in sorted(assigned)]
                    )
                for _ in range(3):
                    self._consume(consumer)
        finally:
            consumer.close()

    def _consume(self, consumer: Any) -> None:
        for msg in consumer.consume(num_messages=5000, timeout=0.1):
            err = msg.error()
            if err is not None:
                if err.code() in (err._AUTO_OFFSET_RESET, err.OFFSET_OUT_OF_RANGE):
                    self.error = f"the reader fell behind the broker's retention: {err}"
                    self._stop_event.set()
                continue
            self.messages.append(
                (msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value() or b"")
            )

    def count(self) -> int:
        """Messages read so far; raises if reading failed."""
        if self.error:
            raise AssertionError(self.error)
        return len(self.messages)

    def stop(self) -> None:
        """Stops reading and closes the consumer."""
        self._stop_event.set()
        self.join(timeout=30)
