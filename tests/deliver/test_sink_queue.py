"""SinkQueue: bounded by entries and bytes; blocks the producer when full; merges and splits batches."""

from __future__ import annotations

import threading

from logship.core.ack import AckTracker, Ticket
from logship.core.batch import Batch
from logship.deliver.queue import SinkQueue
from tests.harness import wait_until


def batch(n: int, nbytes: int = 100, ticket: Ticket | None = None, start: int = 0) -> Batch:
    return Batch([{"n": i} for i in range(start, start + n)], [ticket] if ticket else [], nbytes)


def test_take_merges_queued_batches_and_splits_one_to_fill_a_batch_under_half_full() -> None:
    q = SinkQueue(max_events=100, max_bytes=10_000)
    q.put(batch(2, start=0))
    q.put(batch(4, start=2))
    got = q.take(max_events=5, max_bytes=10_000, linger=0)  # 2 of 5: the next is split
    assert got is not None
    assert [e["n"] for e in got.entries] == [0, 1, 2, 3, 4]
    rest = q.take(max_events=5, max_bytes=10_000, linger=0)
    assert rest is not None
    assert [e["n"] for e in rest.entries] == [5]


def test_a_batch_half_full_or_more_goes_without_splitting_the_next_chunk() -> None:
    q = SinkQueue(max_events=10_000, max_bytes=100_000)
    for start in (0, 3, 6):
        q.put(batch(3, start=start))
    got = q.take(max_events=8, max_bytes=10_000, linger=0)  # 6 of 8: the third goes whole next
    assert got is not None
    assert [e["n"] for e in got.entries] == list(range(6))
    rest = q.take(max_events=8, max_bytes=10_000, linger=0)
    assert rest is not None
    assert [e["n"] for e in rest.entries] == [6, 7, 8]
    q.put(batch(300, nbytes=3000, start=9))
    q.put(batch(600, nbytes=6000, start=309))
    by_bytes = q.take(max_events=10_000, max_bytes=5000, linger=0)  # 3000 of 5000 bytes
    assert by_bytes is not None
    assert len(by_bytes) == 300
    assert q.events == 600


def test_a_split_chunk_keeps_its_ticket_on_the_last_part() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    ticket = acks.register("f", 100, sinks=1)
    q = SinkQueue(max_events=100, max_bytes=10_000)
    q.put(batch(10, ticket=ticket))
    first = q.take(max_events=4, max_bytes=10_000, linger=0)
    second = q.take(max_events=4, max_bytes=10_000, linger=0)
    third = q.take(max_events=4, max_bytes=10_000, linger=0)
    assert first is not None
    assert second is not None
    assert third is not None
    assert (len(first), len(second), len(third)) == (4, 4, 2)
    assert first.tickets == []
    assert second.tickets == []
    assert third.tickets == [ticket]
    assert q.events == 0
    assert q.nbytes == 0


def test_put_blocks_while_full_and_resumes_when_space_frees() -> None:
    q = SinkQueue(max_events=10, max_bytes=10_000)
    q.put(batch(8))
    done = threading.Event()

    def producer() -> None:
        q.put(batch(5))
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not done.wait(0.2), "put must block while the queue is full"
    assert q.take(max_events=8, max_bytes=10_000, linger=0) is not None
    wait_until(done.is_set, timeout=5, message="blocked put to complete")
    t.join()
    assert q.events == 5


def test_byte_bound_blocks_too() -> None:
    q = SinkQueue(max_events=1000, max_bytes=1000)
    q.put(batch(1, nbytes=900))
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(q.put(batch(1, nbytes=200))))
    t.start()
    t.join(0.2)
    assert t.is_alive(), "put must block while the byte bound is reached"
    q.interrupt_puts()
    t.join(5)
    assert result == [False]


def test_an_oversized_batch_enters_an_empty_queue() -> None:
    q = SinkQueue(max_events=10, max_bytes=100)
    assert q.put(batch(50, nbytes=5000))
    assert q.events == 50


def test_interrupt_releases_a_blocked_put_without_queueing() -> None:
    q = SinkQueue(max_events=1, max_bytes=1000)
    q.put(batch(1))
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(q.put(batch(1))))
    t.start()
    q.interrupt_puts()
    t.join(5)
    assert result == [False]
    assert q.events == 1


def test_take_returns_what_is_left_after_close_then_none() -> None:
    q = SinkQueue(max_events=100, max_bytes=10_000)
    q.put(batch(2))
    q.close()
    got = q.take(max_events=10, max_bytes=10_000, linger=5)
    assert got is not None
    assert len(got) == 2
    assert q.take(max_events=10, max_bytes=10_000, linger=5) is None


def test_take_lingers_for_more_entries_until_the_batch_fills() -> None:
    q = SinkQueue(max_events=100, max_bytes=10_000)
    q.put(batch(1, start=0))
    result: list[Batch | None] = []
    t = threading.Thread(
        target=lambda: result.append(q.take(max_events=3, max_bytes=10_000, linger=30))
    )
    t.start()
    q.put(batch(1, start=1))
    q.put(batch(1, start=2))
    t.join(10)
    assert not t.is_alive(), "a full batch must be returned without waiting for the linger time"
    got = result[0]
    assert got is not None
    assert [e["n"] for e in got.entries] == [0, 1, 2]


class CountingCondition(threading.Condition):
    """Counts the wake-ups sent to the threads waiting on a queue (the sink thread's)."""

    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def notify_all(self) -> None:
        self.wakes += 1
        super().notify_all()


def lingering_take(q: SinkQueue, max_events: int, result: list[Batch | None]) -> threading.Thread:
    """A take (linger 60 s) in a thread, returned once it lingers with what was queued."""
    t = threading.Thread(
        target=lambda: result.append(q.take(max_events=max_events, max_bytes=10**9, linger=60))
    )
    t.start()
    wait_until(
        lambda: q.events == 0 and q._want is not None, timeout=10, message="the take lingers"
    )
    return t


def test_a_lingering_take_is_woken_by_the_put_that_fills_its_batch_not_by_each_put() -> None:
    q = SinkQueue(max_events=100, max_bytes=10**9)
    q._cond = cond = CountingCondition()
    q.put(batch(2, start=0))
    result: list[Batch | None] = []
    t = lingering_take(q, 10, result)
    before = cond.wakes
    for i in range(2, 9):
        q.put(batch(1, start=i))  # 9 of 10: no reason to wake the sink thread
    assert cond.wakes == before, "a put that does not fill the batch woke the lingering take"
    q.put(batch(1, start=9))  # fills it
    t.join(20)
    assert not t.is_alive(), "the put that fills the batch must wake the take (linger 60 s)"
    got = result[0]
    assert got is not None
    assert [e["n"] for e in got.entries] == list(range(10))


def test_a_put_that_waits_for_room_wakes_a_lingering_take() -> None:
    # The batch bound (10) is above the queue's (3): the queue cannot hold what the take waits
    # for, so a producer that must wait for room wakes it to make some (not both waiting 60 s).
    q = SinkQueue(max_events=3, max_bytes=10**9)
    q.put(batch(1, start=0))
    result: list[Batch | None] = []
    t = lingering_take(q, 10, result)
    producer = threading.Thread(target=lambda: [q.put(batch(1, start=i)) for i in range(1, 6)])
    producer.start()
    producer.join(20)
    assert not producer.is_alive(), "the 4th put waited for room while the take lingered on"
    q.producer_idle()
    t.join(20)
    got = result[0]
    assert got is not None
    assert [e["n"] for e in got.entries] == list(range(6))


def test_a_lingering_take_returns_at_once_when_the_producer_has_read_everything() -> None:
    q = SinkQueue(max_events=100, max_bytes=10_000)
    q.put(batch(1))
    result: list[Batch | None] = []
    t = threading.Thread(
        target=lambda: result.append(q.take(max_events=3, max_bytes=10_000, linger=60))
    )
    t.start()
    q.producer_idle()
    t.join(20)
    assert not t.is_alive(), "an idle producer must end the linger (60 s) at once"
    got = result[0]
    assert got is not None
    assert [e["n"] for e in got.entries] == [0]


def test_a_put_after_an_idle_spell_lingers_again_for_more_entries() -> None:
    q = SinkQueue(max_events=100, max_bytes=10_000)
    q.producer_idle()
    q.put(batch(1, start=0))  # reading again: the take below waits for the batch to fill
    result: list[Batch | None] = []
    t = threading.Thread(
        target=lambda: result.append(q.take(max_events=2, max_bytes=10_000, linger=60))
    )
    t.start()
    wait_until(lambda: q.events == 0, timeout=10, message="the take holds the first entry")
    q.put(batch(1, start=1))
    t.join(20)
    assert not t.is_alive()
    got = result[0]
    assert got is not None
    assert [e["n"] for e in got.entries] == [0, 1]


def test_byte_bound_splits_a_large_chunk_proportionally() -> None:
    q = SinkQueue(max_events=1000, max_bytes=1_000_000)
    q.put(batch(5, nbytes=500, start=0))  # under half of the byte bound: the next is split
    q.put(batch(20, nbytes=2000, start=5))
    got = q.take(max_events=1000, max_bytes=1500, linger=0)
    assert got is not None
    assert len(got) == 15
    assert q.events == 10
