"""The Kafka sink as a proof target: librdkafka's mock cluster or Tansu, read back as it goes.

Besides each record's line number, the reader keeps where it lay (partition, offset) and its
timestamp, and it reads the offsets topic too: `tests.prove.kafka_transactions` splits the log
into transactions with them.
"""

from __future__ import annotations

import threading
import time
from array import array
from pathlib import Path
from typing import Any

from tests.doubles.kafka_mock import _QUIET as QUIET
from tests.doubles.tansu import Tansu
from tests.harness import wait_until
from tests.prove.ledger import N_FIELD
from tests.prove.slow_kafka import SlowMockKafka

_OFFSET_MASK = (1 << 48) - 1
BATCH = {"max_events": 2000, "linger_ms": 20}
RETRY = {"initial_backoff": "50ms", "max_backoff": "1s"}


class KafkaTarget:
    """The Kafka sink, to librdkafka's mock broker in its own process, read back as it goes.

    The mock broker keeps only ~5 MiB per partition: a reader consumes concurrently and fails
    loudly if it ever falls behind (an offset reset), rather than skipping records.
    """

    name = "kafka"
    PARTITIONS = 4
    OFFSETS_TOPIC = "logship-offsets"
    """The sink's default offsets topic (exactly-once), made here as the agent would: 1 partition."""

    def __init__(self, delivery: str = "at_least_once", tansu: Path | None = None) -> None:
        from confluent_kafka import Consumer

        self.delivery = delivery
        self.kafka: SlowMockKafka | Tansu
        if tansu is None:
            self.kafka = SlowMockKafka().start()
            self.kafka.create_topic("logs", self.PARTITIONS)
            self.kafka.create_topic(self.OFFSETS_TOPIC, 1)
        else:
            self.kafka = Tansu(tansu).start()
            create_topic(self.kafka.bootstrap_servers, "logs", self.PARTITIONS)
            create_topic(self.kafka.bootstrap_servers, self.OFFSETS_TOPIC, 1)
        self._numbers: array[int] = array("q")
        self._positions: array[int] = array("q")
        self._read_to = [0] * self.PARTITIONS
        """(partition << 48 | offset) of each record, in the order of `_numbers`."""
        self._times: array[int] = array("q")
        """Each record's timestamp (ms; set by the producer), in the order of `_numbers`."""
        self.offsets_records: list[tuple[int, int]] = []
        """(offset, timestamp in ms) of every record read from the offsets topic."""
        self._error: str | None = None
        self._stop = threading.Event()
        servers = self.kafka.bootstrap_servers
        self._consumer = Consumer(
            {
                "bootstrap.servers": servers,
                "group.id": "prove-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "auto.offset.reset": "error",
                "fetch.wait.max.ms": 50,
                "logger": QUIET,
            }
        )
        self._watermarks = Consumer(
            {"bootstrap.servers": servers, "group.id": "prove-marks", "logger": QUIET}
        )
        self._thread = threading.Thread(target=self._read, name="kafka-reader", daemon=True)
        self._thread.start()

    def sink(self) -> dict[str, Any]:
        return {
            "name": "kafka",
            "type": "kafka",
            "bootstrap_servers": [self.kafka.bootstrap_servers],
            "topic": "logs",
            "batch": BATCH,
            "retry": RETRY,
            "delivery": self.delivery,
            "message_timeout": "5s",
            "producer_options": {"request.timeout.ms": 3000, "reconnect.backoff.max.ms": 500},
        }

    def _read(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

        consumer = self._consumer
        assignment = [TopicPartition("logs", p, OFFSET_BEGINNING) for p in range(self.PARTITIONS)]
        assignment.append(TopicPartition(self.OFFSETS_TOPIC, 0, OFFSET_BEGINNING))
        consumer.assign(assignment)
        try:
            while not self._stop.is_set():
                found = []
                where = []
                times = []
                for msg in consumer.consume(num_messages=10_000, timeout=0.1):
                    err = msg.error()
                    if err is None and msg.topic() == self.OFFSETS_TOPIC:
                        self.offsets_records.append((msg.offset() or 0, msg.timestamp()[1]))
                    elif err is None:
                        match = N_FIELD.search(msg.value() or b"")
                        found.append(int(match[1]) if match else -1)
                        partition, offset = msg.partition() or 0, msg.offset() or 0
                        where.append(partition << 48 | offset)
                        times.append(msg.timestamp()[1])
                    elif err.code() in (
                        KafkaError._AUTO_OFFSET_RESET,
                        KafkaError.OFFSET_OUT_OF_RANGE,
                    ):
                        self._error = f"the reader fell behind the broker's retention: {err}"
                        return
                self._positions.extend(where)  # before the numbers: readers go by len(numbers)
                self._times.extend(times)
                self._numbers.extend(found)
                for p in where:
                    self._read_to[p >> 48] = (p & _OFFSET_MASK) + 1
        finally:
            consumer.close()

    def numbers(self) -> array[int]:
        if self._error:
            raise AssertionError(self._error)
        return self._numbers

    def records(self) -> list[tuple[int, int, int, int]]:
        """(partition, offset, timestamp in ms, line number) of every record read so far."""
        count = len(self.numbers())
        return [
            (p >> 48, p & _OFFSET_MASK, ts, n)
            for n, p, ts in zip(
                self._numbers[:count], self._positions[:count], self._times[:count], strict=True
            )
        ]

    def high_watermarks(self) -> list[int]:
        """Per partition, the offset the next record appended will get."""
        from confluent_kafka import TopicPartition

        return [
            self._watermarks.get_watermark_offsets(TopicPartition("logs", p), timeout=30)[1]
            for p in range(self.PARTITIONS)
        ]

    def appended(self) -> int:
        """Records the broker holds in total (the sum of the partitions' high watermarks)."""
        return sum(self.high_watermarks())

    def delivered_while_down(self) -> array[int]:
        """Records below the high watermarks read right after the broker came back.

        The agent's producer needs a moment to reconnect, so a record it appends meanwhile may
        count as delivered before: that can only hide a violation, never invent one.
        """
        marks = self.high_watermarks()
        wait_until(
            lambda: all(got >= mark for got, mark in zip(self._read_to, marks, strict=True)),
            timeout=120,
            message="the reader to catch up with the broker",
        )
        count = len(self._numbers)
        return array(
            "q",
            (
                n
                for n, p in zip(self._numbers[:count], self._positions[:count], strict=True)
                if (p & _OFFSET_MASK) < marks[p >> 48]
            ),
        )

    def settle(self) -> None:
        """Waits until the reader has every record the broker appended, and no more arrive."""
        if self.delivery == "exactly_once" or isinstance(self.kafka, Tansu):
            self._settle_quiet()
            return
        while True:
            appended = self.appended()
            wait_until(
                lambda appended=appended: len(self.numbers()) >= appended,
                timeout=120,
                message=f"the reader to catch up with {appended} records",
            )
            time.sleep(0.3)  # a produce request sent just before the kill may still be appended
            if self.appended() == appended:
                return

    def _settle_quiet(self) -> None:
        """settle() by quiescence: the agent is dead, so once the reader has seen nothing new
        for half a second it has everything. For Tansu, whose high watermarks are wrong (reported
        0 here), and for transactions (markers take offsets, and the mock cluster was seen
        reporting 0 while transactions were in flight)."""
        last = -1
        while len(self.numbers()) != last:
            last = len(self.numbers())
            time.sleep(0.5)

    def _mock(self) -> SlowMockKafka:
        assert isinstance(self.kafka, SlowMockKafka), "only the mock cluster can do that"
        return self.kafka

    def down(self) -> None:
        self._mock().broker_down()

    def up(self) -> None:
        self._mock().broker_up()

    def slow(self) -> None:
        self._mock().slow(2000)

    def fast(self) -> None:
        self._mock().slow(0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._watermarks.close()
        self.kafka.stop()


def create_topic(servers: str, topic: str, partitions: int) -> None:
    """Creates a topic with the admin API (Tansu; the mock cluster has its own command)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": servers, "logger": QUIET})
    admin.create_topics([NewTopic(topic, partitions)])[topic].result(timeout=30)
