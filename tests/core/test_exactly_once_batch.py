"""What exactly-once sinks rely on: records past a batch's tickets are counted, and the ack
tracker says where a batch leaves the checkpoints without acknowledging anything."""

from __future__ import annotations

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.ndjson import encode_ndjson


def encoded(start: int, n: int) -> Batch:
    entries = [{"n": i} for i in range(start, start + n)]
    return Batch.encoded(encode_ndjson(entries), n, [], n * 10)


def test_the_head_of_a_split_chunk_is_untracked_and_its_tail_is_covered() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    chunk = encoded(0, 5)
    chunk.tickets = [acks.register("f", 50, sinks=1)]
    head, tail = chunk.split(2)
    assert (head.untracked, tail.untracked) == (2, 0)


def test_a_merged_batch_ending_with_a_split_head_counts_only_those_records_untracked() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    first = encoded(0, 3)
    first.tickets = [acks.register("f", 30, sinks=1)]
    second = encoded(3, 4)
    second.tickets = [acks.register("f", 70, sinks=1)]
    head, _ = second.split(1)
    merged = Batch.merge([first, head])
    assert merged.untracked == 1
    payload = merged.payload()
    assert payload[: merged.covered_bytes([payload])] == first.payload()


def test_a_retry_subset_is_wholly_untracked() -> None:
    batch = encoded(0, 4)
    assert batch.subset([1, 3]).untracked == 2
    assert Batch([{"n": 1}, {"n": 2}]).subset([0]).untracked == 1


def test_after_gives_the_watermarks_once_a_batch_is_acked_and_acknowledges_nothing() -> None:
    acks = AckTracker()
    acks.track("a", 0)
    acks.track("b", 100)
    t1 = acks.register("a", 10, sinks=1)
    t2 = acks.register("a", 20, sinks=1)
    assert acks.after([t1]) == {"a": 10, "b": 100}
    assert acks.after([t2]) == {"a": 0, "b": 100}  # t1 still owed: a cannot move
    assert acks.after([t1, t2]) == {"a": 20, "b": 100}
    assert acks.watermarks() == {"a": 0, "b": 100}
    assert (t1.pending, t2.pending) == (1, 1)
