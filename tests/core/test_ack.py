"""AckTracker: the watermark only moves over contiguous, fully acknowledged chunks."""

from __future__ import annotations

import threading

from logship.core.ack import AckTracker


def test_watermark_moves_only_over_contiguous_acknowledged_chunks() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    a = acks.register("f", 100, sinks=1)
    b = acks.register("f", 200, sinks=1)
    c = acks.register("f", 300, sinks=1)
    acks.ack([c])
    acks.ack([b])
    assert acks.watermark("f") == 0, "a later chunk must not move the watermark past an earlier one"
    acks.ack([a])
    assert acks.watermark("f") == 300
    assert acks.in_flight("f") == 0


def test_a_chunk_routed_to_two_sinks_needs_both_acks() -> None:
    acks = AckTracker()
    acks.track("f", 10)
    t = acks.register("f", 50, sinks=2)
    acks.ack([t])
    assert acks.watermark("f") == 10
    acks.ack([t])
    assert acks.watermark("f") == 50


def test_a_chunk_with_no_records_is_acknowledged_at_once() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    acks.register("f", 40, sinks=0)
    assert acks.watermark("f") == 40


def test_files_are_independent() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    acks.track("g", 0)
    f1 = acks.register("f", 10, sinks=1)
    g1 = acks.register("g", 20, sinks=1)
    acks.ack([g1])
    assert acks.watermarks() == {"f": 0, "g": 20}
    acks.ack([f1])
    assert acks.watermarks() == {"f": 10, "g": 20}


def test_reset_forgets_tickets_of_the_truncated_generation() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    old = acks.register("f", 5000, sinks=1)
    acks.reset("f", 0)
    new = acks.register("f", 80, sinks=1)
    acks.ack([old])
    assert acks.watermark("f") == 0, "an ack of the old generation must not move the new watermark"
    acks.ack([new])
    assert acks.watermark("f") == 80


def test_track_keeps_an_existing_watermark() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    acks.ack([acks.register("f", 10, sinks=1)])
    acks.track("f", 0)  # a file reopened after close_inactive
    assert acks.watermark("f") == 10


def test_concurrent_acks_from_several_threads_reach_the_last_offset() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    tickets = [acks.register("f", (i + 1) * 10, sinks=4) for i in range(2000)]

    def ack_all() -> None:
        for t in tickets:
            acks.ack([t])

    threads = [threading.Thread(target=ack_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert acks.watermark("f") == 20000
