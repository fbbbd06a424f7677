"""The three sinks as proof targets: a file, a Kafka-protocol broker and a fake Elasticsearch.

Each target gives the agent's sink config, reads back the line number of every record that
arrived (duplicates included), waits until what the agent delivered is visible (`settle`), and
can make its sink unavailable (`down` / `up`) or slow (`slow` / `fast`).
"""

from __future__ import annotations

import threading
import time
from array import array
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pytest

from tests.doubles.es_server import EsServer
from tests.doubles.kafka_mock import _QUIET as QUIET
from tests.doubles.tansu import Tansu, tansu_binary
from tests.harness import wait_until
from tests.prove.ledger import N_FIELD, Ledger
from tests.prove.slow_kafka import SlowMockKafka
from tests.prove.small_disk import SmallDisk

_OFFSET_MASK = (1 << 48) - 1
BATCH = {"max_events": 2000, "linger_ms": 20}
RETRY = {"initial_backoff": "50ms", "max_backoff": "1s"}


class Target(Protocol):
    """A sink the proof writes through and reads back."""

    name: str

    def sink(self) -> dict[str, Any]:
        """The sink's config entry."""

    def numbers(self) -> array[int]:
        """The line number of every record received so far, duplicates included."""

    def settle(self) -> None:
        """Waits until everything the (now dead or stopped) agent delivered can be read."""

    def delivered_while_down(self) -> array[int]:
        """Called just after `up`: the line numbers delivered before the sink came back."""

    def down(self) -> None:
        """Makes the sink unavailable."""

    def up(self) -> None:
        """Makes it available again."""

    def slow(self) -> None:
        """Makes every request take seconds."""

    def fast(self) -> None:
        """Back to normal speed."""

    def close(self) -> None:
        """Releases what the target started."""


class FileTarget:
    """The file sink; its folder can be a small file system of its own, to fill it up."""

    name = "file"

    def __init__(
        self, root: Path, disk_size: str | None = None, delivery: str = "at_least_once"
    ) -> None:
        self.delivery = delivery
        self.folder = root / "out"
        self.disk = SmallDisk(self.folder, disk_size).mount() if disk_size else None
        self.path = self.folder / "logs.ndjson"
        self._numbers: array[int] = array("q")
        self._offset = 0
        self._last = b""
        self._at_up = 0
        self._lock = threading.Lock()

    def sink(self) -> dict[str, Any]:
        return {
            "name": "out",
            "type": "file",
            "path": str(self.path),
            "batch": BATCH,
            "retry": RETRY,
            "delivery": self.delivery,
        }

    def numbers(self) -> array[int]:
        """Reads what was appended since the last call (complete lines only).

        With exactly_once, a restart may cut the file back (lines written but never
        checkpointed) and write on from there: when the bytes last read are not there any
        more, the numbers are read again from the start."""
        with self._lock:
            try:
                with self.path.open("rb") as f:
                    if self._offset and self._changed(f):
                        self._numbers = array("q")
                        self._offset = 0
                        self._last = b""
                    f.seek(self._offset)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            end = data.rfind(b"\n") + 1
            if end:
                self._numbers.extend(int(m) for m in N_FIELD.findall(data, 0, end))
                self._last = (self._last + data[:end])[-4096:]
                self._offset += end
            return self._numbers

    def _changed(self, f: BinaryIO) -> bool:
        """True if the bytes before the read offset are not the ones read there."""
        f.seek(self._offset - len(self._last))
        return f.read(len(self._last)) != self._last

    def settle(self) -> None:
        pass  # the agent's writes are done when its process is

    def down(self) -> None:
        assert self.disk is not None, "a file target needs its own disk to be made unavailable"
        self.disk.fill()

    def up(self) -> None:
        assert self.disk is not None
        self._at_up = len(self.numbers())
        self.disk.free()

    def delivered_while_down(self) -> array[int]:
        return self.numbers()[: self._at_up]

    def slow(self) -> None:
        raise NotImplementedError("no way to slow a local disk down here (no device-mapper)")

    fast = slow

    def close(self) -> None:
        if self.disk is not None:
            self.disk.unmount()


class _PieceReader:
    """Incremental reader of one output file (see FileTarget.numbers), by inode."""

    def __init__(self, path: Path) -> None:
        self.target = FileTarget.__new__(FileTarget)
        self.target.path = path
        self.target.delivery = "exactly_once"
        self.target._numbers = array("q")
        self.target._offset = 0
        self.target._last = b""
        self.target._lock = threading.Lock()


class RotatingFileTarget(FileTarget):
    """The file sink rotating its output by size: the records of every rotated file (in
    rotation order), then of the current one."""

    name = "file"

    def __init__(self, root: Path, delivery: str, max_bytes: int) -> None:
        super().__init__(root, None, delivery)
        self.max_bytes = max_bytes
        self._pieces: dict[int, _PieceReader] = {}

    def sink(self) -> dict[str, Any]:
        return {**super().sink(), "rotate": {"max_bytes": self.max_bytes}}

    def numbers(self) -> array[int]:
        files = [*sorted(self.folder.glob(self.path.name + ".*")), self.path]
        out = array("q")
        seen: set[int] = set()
        for path in files:
            try:
                inode = path.stat().st_ino
            except FileNotFoundError:
                continue
            piece = self._pieces.get(inode)
            if piece is None:
                piece = self._pieces[inode] = _PieceReader(path)
            piece.target.path = path  # the current file keeps its inode when rotated
            seen.add(inode)
            out.extend(piece.target.numbers())
        for inode in set(self._pieces) - seen:
            del self._pieces[inode]  # removed by a restart (written after the checkpoint)
        return out

    def rotated(self) -> int:
        """Rotated files now."""
        return len(list(self.folder.glob(self.path.name + ".*")))


class KafkaTarget:
    """The Kafka sink, to librdkafka's mock broker in its own process, read back as it goes.

    The mock broker keeps only ~5 MiB per partition: a reader consumes concurrently and fails
    loudly if it ever falls behind (an offset reset), rather than skipping records.
    """

    name = "kafka"
    PARTITIONS = 4

    def __init__(self, delivery: str = "at_least_once", tansu: Path | None = None) -> None:
        from confluent_kafka import Consumer

        self.delivery = delivery
        self.kafka: SlowMockKafka | Tansu
        if tansu is None:
            self.kafka = SlowMockKafka().start()
            self.kafka.create_topic("logs", self.PARTITIONS)
        else:
            self.kafka = Tansu(tansu).start()
            create_topic(self.kafka.bootstrap_servers, "logs", self.PARTITIONS)
        self._numbers: array[int] = array("q")
        self._positions: array[int] = array("q")
        self._read_to = [0] * self.PARTITIONS
        """(partition << 48 | offset) of each record, in the order of `_numbers`."""
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
        consumer.assign(assignment)
        try:
            while not self._stop.is_set():
                found = []
                where = []
                for msg in consumer.consume(num_messages=10_000, timeout=0.1):
                    err = msg.error()
                    if err is None:
                        match = N_FIELD.search(msg.value() or b"")
                        found.append(int(match[1]) if match else -1)
                        partition, offset = msg.partition() or 0, msg.offset() or 0
                        where.append(partition << 48 | offset)
                    elif err.code() in (
                        KafkaError._AUTO_OFFSET_RESET,
                        KafkaError.OFFSET_OUT_OF_RANGE,
                    ):
                        self._error = f"the reader fell behind the broker's retention: {err}"
                        return
                self._positions.extend(where)  # before the numbers: readers go by len(numbers)
                self._numbers.extend(found)
                for p in where:
                    self._read_to[p >> 48] = (p & _OFFSET_MASK) + 1
        finally:
            consumer.close()

    def numbers(self) -> array[int]:
        if self._error:
            raise AssertionError(self._error)
        return self._numbers

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


class ElasticsearchTarget:
    """The Elasticsearch sink, to the fake cluster in this process (ids only, like a real index).

    Records are known by their deterministic `_id` (file identity, offset, message): the ledger
    computes the id of every line written, so an id maps back to its line number.
    """

    name = "elasticsearch"
    INDEX = "logs-generic-default"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.server = EsServer(keep_sources=False).start()
        self._at_up: array[int] = array("q")

    def sink(self) -> dict[str, Any]:
        return {
            "name": "es",
            "type": "elasticsearch",
            "hosts": [self.server.url],
            "batch": BATCH,
            "retry": RETRY,
            "request_timeout": "5s",
        }

    def numbers(self) -> array[int]:
        state = self.server.state
        with state.lock:
            ids = list(state.docs.get(self.INDEX, {}))
        known = self.ledger.ids
        return array("q", (known.get(i, -1) for i in ids))

    def replays(self) -> int:
        """Items the cluster refused as already indexed (409): lines sent again after a crash."""
        with self.server.state.lock:
            return sum(b.item_statuses.count(409) for b in self.server.state.bulks)

    def settle(self) -> None:
        # A bulk request the agent sent just before it died may still be being indexed.
        time.sleep(0.3)

    def delivered_while_down(self) -> array[int]:
        return self._at_up

    def down(self) -> None:
        self.server.down()

    def up(self) -> None:
        self._at_up = self.numbers()
        self.server.up()

    def slow(self) -> None:
        self.server.state.delay = 2.0

    def fast(self) -> None:
        self.server.state.delay = 0.0

    def close(self) -> None:
        self.server.stop()


def create_topic(servers: str, topic: str, partitions: int) -> None:
    """Creates a topic with the admin API (Tansu; the mock cluster has its own command)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": servers, "logger": QUIET})
    admin.create_topics([NewTopic(topic, partitions)])[topic].result(timeout=30)


def make_target(name: str, root: Path, ledger: Ledger, disk_size: str | None = None) -> Target:
    """The target of a sink type; a file target on a small disk of its own when `disk_size`.

    `file-eos` and `kafka-eos` are the sinks with `delivery: exactly_once`; `tansu-eos` is
    Kafka exactly-once into Tansu (skipped when Tansu is not installed)."""
    if name == "file":
        return FileTarget(root, disk_size)
    if name == "file-eos":
        return FileTarget(root, disk_size, delivery="exactly_once")
    if name == "file-eos-rotating":
        return RotatingFileTarget(root, "exactly_once", max_bytes=300_000)
    if name == "kafka":
        return KafkaTarget()
    if name == "kafka-eos":
        return KafkaTarget(delivery="exactly_once")
    if name == "tansu-eos":
        binary = tansu_binary()
        if binary is None:
            pytest.skip("Tansu is not installed (make tansu)")
        return KafkaTarget(delivery="exactly_once", tansu=binary)
    return ElasticsearchTarget(ledger)
