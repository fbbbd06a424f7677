"""SpooledQueue with a real SinkWorker: a lagging sink's records go to disk, are acked once
fsynced, and reach the sink in order, exactly once, when it is back; the bound holds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import DELIVERED, Outcome, SendResult
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.spool.queue import SpooledQueue, SpoolMetrics
from logship.deliver.spool.store import SpoolStore
from logship.deliver.worker import SinkWorker
from sinks.file import FileSinkSettings
from tests.harness import wait_until

MIB = 1 << 20
PAD = "x" * 200


class SwitchSink:
    """A sink that is up or down (every send answers RETRY); records what it received. Like
    Elasticsearch it reads `batch.entries` (it does not take NDJSON)."""

    name = "es"

    def __init__(self) -> None:
        self.up = threading.Event()
        self.up.set()
        self.received: list[int] = []
        self.lock = threading.Lock()

    def send(self, batch: Batch) -> SendResult:
        if not self.up.is_set():
            return SendResult(Outcome.RETRY, reason="connection refused")
        with self.lock:
            self.received += [r["n"] for r in batch.entries]
        return DELIVERED

    def got(self) -> list[int]:
        with self.lock:
            return list(self.received)

    def close(self, timeout: float) -> None:
        pass


class Rig:
    """A file `f` read in chunks of `per` records, one ticket per chunk, into a spooled queue."""

    def __init__(
        self,
        tmp_path: Path,
        max_bytes: int = 64 * MIB,
        when_full: Literal["block", "drop_oldest"] = "block",
    ) -> None:
        self.folder = tmp_path / "spool" / "es"
        self.acks = AckTracker()
        self.acks.track("f", 0)
        self.metrics = Metrics()
        self.store = SpoolStore(self.folder, max_bytes)
        self.queue = SpooledQueue(
            200,
            1 << 20,
            self.store,
            when_full,
            self.acks,
            SpoolMetrics.of(self.metrics, "es"),
            "es",
            takes_ndjson=False,
        )
        self.queue.open()
        self.sink = SwitchSink()
        settings = FileSinkSettings.model_validate(
            {
                "name": "es",
                "type": "file",
                "path": "/unused",
                "batch": {"max_events": 100, "linger_ms": 0},
                "retry": {"initial_backoff": 0.01, "max_backoff": 0.05},
            }
        )
        self.worker = SinkWorker(
            self.sink,  # type: ignore[arg-type]
            settings,
            self.queue,
            self.acks,
            DeadLetterFile(tmp_path / "dlq", "es"),
            self.metrics,
        )
        self.next = 0

    def put(self, per: int = 20) -> bool:
        start = self.next
        self.next += per
        ticket = self.acks.register("f", self.next, sinks=1)
        entries = [{"n": i, "pad": PAD} for i in range(start, self.next)]
        return self.queue.put(Batch(entries, [ticket], per * 220))

    def counter(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, {"sink": "es", **labels}) or 0.0

    def close(self) -> None:
        self.queue.close()
        self.worker.abandon()
        self.worker.join(10)
        self.queue.close_store()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.seg"))


def test_a_healthy_sink_never_writes_the_spool(rig: Rig) -> None:
    rig.worker.start()
    for _ in range(50):
        assert rig.put()
    wait_until(lambda: len(rig.sink.got()) == 1000, timeout=30)
    assert rig.sink.got() == list(range(1000))
    assert segments(rig.folder) == []
    assert rig.counter("logship_spool_records_written_total") == 0


def test_a_down_sink_is_spooled_acked_and_delivered_in_order_exactly_once_when_back(
    rig: Rig,
) -> None:
    rig.sink.up.clear()
    rig.worker.start()
    for _ in range(100):  # far more than the queue holds: puts never block for long
        assert rig.put()
    # Every chunk is acknowledged while the sink is still down: it is on disk, fsynced.
    wait_until(lambda: rig.acks.watermark("f") == 2000, timeout=30, message="acks while down")
    assert rig.sink.got() == []
    assert segments(rig.folder)
    assert rig.queue.absorbing
    assert rig.counter("logship_spool_records_written_total") == 2000
    rig.sink.up.set()
    for _ in range(10):  # new records keep flowing during the drain, after the spooled ones
        assert rig.put()
    wait_until(lambda: len(rig.sink.got()) >= 2200, timeout=30, message="the drain")
    assert rig.sink.got() == list(range(2200))
    wait_until(lambda: segments(rig.folder) == [], timeout=10, message="segments deleted")
    stats = rig.queue.spool_stats()
    assert not stats.spooling
    assert stats.records == 0


def test_records_spooled_by_a_previous_run_are_delivered_before_new_ones(tmp_path: Path) -> None:
    first = Rig(tmp_path)
    first.sink.up.clear()
    first.worker.start()
    for _ in range(30):
        first.put()
    wait_until(lambda: first.acks.watermark("f") == 600, timeout=30)
    first.close()
    second = Rig(tmp_path)
    second.next = 600  # the checkpoint: reading resumes after what was spooled
    second.worker.start()
    for _ in range(5):
        second.put()
    wait_until(lambda: len(second.sink.got()) >= 700, timeout=30)
    received = second.sink.got()
    # The batch the first worker held when it stopped was never spooled nor acked: it is
    # read again from the file; what was spooled comes first, in order, once.
    assert received == list(range(700))
    second.close()


def test_when_full_block_makes_puts_wait_until_the_sink_drains_the_spool(tmp_path: Path) -> None:
    rig = Rig(tmp_path, max_bytes=1 * MIB, when_full="block")
    rig.sink.up.clear()
    rig.worker.start()
    done = threading.Event()

    def produce() -> None:
        for _ in range(400):  # ~1.8 MiB of records: more than the spool holds
            rig.put()
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    wait_until(lambda: not rig.store.room_for(64 * 1024), timeout=30, message="a full spool")
    assert not done.wait(0.3), "put must wait while the spool is full"
    assert sum(p.stat().st_size for p in rig.folder.iterdir()) <= 1 * MIB
    assert rig.counter("logship_spool_records_dropped_total", reason="full") == 0
    rig.sink.up.set()
    assert done.wait(30)
    wait_until(lambda: len(rig.sink.got()) == 8000, timeout=30, message="everything delivered")
    assert rig.sink.got() == list(range(8000))
    rig.close()


def test_when_full_drop_oldest_never_blocks_and_counts_what_it_drops(tmp_path: Path) -> None:
    rig = Rig(tmp_path, max_bytes=1 * MIB, when_full="drop_oldest")
    rig.sink.up.clear()
    rig.worker.start()
    for _ in range(400):
        assert rig.put()
        assert sum(p.stat().st_size for p in rig.folder.iterdir()) <= 1 * MIB
    wait_until(lambda: rig.acks.watermark("f") == 8000, timeout=30)
    dropped = rig.counter("logship_spool_records_dropped_total", reason="full")
    assert dropped > 0
    rig.sink.up.set()
    wait_until(
        lambda: len(rig.sink.got()) + dropped >= 8000, timeout=30, message="the rest delivered"
    )
    got = rig.sink.got()
    assert len(got) + dropped == 8000
    assert got == sorted(got), "in order"
    assert len(set(got)) == len(got), "once"
    assert got[-1] == 7999, "the newest records are kept"
    rig.close()


def test_closing_while_the_sink_is_down_leaves_the_spool_for_next_time_without_waiting(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    rig.sink.up.clear()
    rig.worker.start()
    for _ in range(30):
        assert rig.put()
    wait_until(lambda: rig.acks.watermark("f") == 600, timeout=30, message="everything spooled")
    wait_until(lambda: rig.queue._reading is not None, timeout=10, message="a spool batch held")
    rig.queue.close()
    rig.worker.join(10)
    assert not rig.worker.is_alive(), "the worker stops: its batch is safe in the spool"
    assert rig.queue.spool_stats().records == 600
    assert rig.sink.got() == []
    rig.queue.close_store()


def test_a_chunk_larger_than_the_whole_spool_waits_for_it_to_drain_and_keeps_its_place(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, max_bytes=1 * MIB)
    rig.sink.up.clear()
    rig.worker.start()
    for _ in range(20):
        assert rig.put()
    wait_until(lambda: rig.acks.watermark("f") == 400, timeout=30, message="spooling")
    done = threading.Event()

    def huge() -> None:
        rig.put(per=6000)  # ~1.4 MiB of JSON: never fits a 1 MiB spool
        done.set()

    threading.Thread(target=huge, daemon=True).start()
    assert not done.wait(0.3), "it waits while the spool holds records"
    rig.sink.up.set()
    assert done.wait(30)
    wait_until(lambda: len(rig.sink.got()) == 6400, timeout=30, message="everything delivered")
    assert rig.sink.got() == list(range(6400))
    rig.close()


def test_a_split_chunk_is_not_acked_while_its_head_part_is_still_with_the_worker(
    tmp_path: Path,
) -> None:
    acks = AckTracker()
    acks.track("f", 0)
    queue = SpooledQueue(
        160,
        1 << 20,
        SpoolStore(tmp_path / "spool", 64 * MIB),
        "block",
        acks,
        SpoolMetrics.of(Metrics(), "es"),
        "es",
    )
    queue.open()

    def chunk(start: int, end: int) -> Batch:
        ticket = acks.register("f", end, sinks=1)
        return Batch([{"n": i} for i in range(start, end)], [ticket], (end - start) * 10)

    assert queue.put(chunk(0, 150))
    head = queue.take(100, 1 << 20, 0)  # the worker holds records 0-99; 100-149 stay queued
    assert head is not None
    assert head.tickets == []
    assert queue.put(chunk(150, 300))  # does not fit: after SPILL_AFTER the queue spools
    assert queue.spool_stats().spooling
    assert acks.watermark("f") == 0, "records 0-99 are neither delivered nor spooled"
    queue.delivered(head)  # the worker delivered (and acked) its part
    assert acks.watermark("f") == 300
    queue.close()
    queue.close_store()
