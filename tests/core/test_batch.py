"""Batch: records as dicts or as NDJSON, split and merged without losing a record or a ticket."""

from __future__ import annotations

import orjson

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.ndjson import encode_ndjson
from logship.deliver.queue import SinkQueue


def encoded(start: int, n: int) -> Batch:
    entries = [{"n": i, "text": "a\nb"} for i in range(start, start + n)]  # newlines get escaped
    return Batch.encoded(encode_ndjson(entries), n, [], n * 10)


def numbers(batch: Batch) -> list[int]:
    return [r["n"] for r in batch.records()]


def test_an_encoded_batch_gives_back_its_records_and_lines() -> None:
    batch = encoded(0, 3)
    assert len(batch) == 3
    assert numbers(batch) == [0, 1, 2]
    assert [orjson.loads(line)["n"] for line in batch.lines()] == [0, 1, 2]
    assert batch.payload() == encode_ndjson(batch.records())


def test_splitting_an_encoded_chunk_keeps_the_tickets_on_the_tail() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    ticket = acks.register("f", 50, sinks=1)
    batch = encoded(0, 5)
    batch.tickets = [ticket]
    head, tail = batch.split(2)
    assert (numbers(head), numbers(tail)) == ([0, 1], [2, 3, 4])
    assert head.tickets == []
    assert tail.tickets == [ticket]
    assert head.nbytes + tail.nbytes == batch.nbytes


def test_merging_dict_and_encoded_parts_encodes_all_in_order() -> None:
    parts = [encoded(0, 2), Batch([{"n": 2, "text": "x"}], [], 10), encoded(3, 1)]
    merged = Batch.merge(parts)
    assert merged.ndjson is not None
    assert numbers(merged) == [0, 1, 2, 3]


def test_merging_dict_parts_keeps_dicts() -> None:
    merged = Batch.merge([Batch([{"n": 0}]), Batch([{"n": 1}])])
    assert merged.ndjson is None
    assert merged.entries == [{"n": 0}, {"n": 1}]


def test_a_subset_keeps_the_form() -> None:
    assert numbers(encoded(0, 5).subset([1, 3])) == [1, 3]
    assert encoded(0, 5).subset([4]).ndjson is not None


def test_the_queue_merges_and_splits_encoded_batches_by_record_count() -> None:
    queue = SinkQueue(1000, 1 << 20)
    queue.put(encoded(0, 2))
    queue.put(encoded(2, 5))
    first = queue.take(max_events=5, max_bytes=1 << 20, linger=0)  # 2 of 5: the next is split
    second = queue.take(max_events=5, max_bytes=1 << 20, linger=0)
    assert first is not None
    assert second is not None
    assert (numbers(first), numbers(second)) == ([0, 1, 2, 3, 4], [5, 6])
    assert queue.events == 0


def test_merging_encoded_chunks_keeps_their_pieces_uncopied() -> None:
    chunks = [encoded(0, 2), encoded(2, 3), encoded(5, 1)]
    pieces = [c.payload() for c in chunks]
    merged = Batch.merge(chunks)
    assert merged.parts is not None
    assert all(a is b for a, b in zip(merged.payload_parts(), pieces, strict=True))
    assert len(merged) == 6
    assert numbers(merged) == list(range(6))
    assert [orjson.loads(line)["n"] for line in merged.lines()] == list(range(6))
    assert merged.payload() == b"".join(pieces)


def test_a_merged_batch_splits_and_counts_covered_bytes_across_its_pieces() -> None:
    acks = AckTracker()
    acks.track("f", 0)
    first = encoded(0, 2)
    first.tickets = [acks.register("f", 20, sinks=1)]
    second = encoded(2, 3)
    second.tickets = [acks.register("f", 50, sinks=1)]
    head, _ = second.split(1)
    merged = Batch.merge([first, head])
    pieces = merged.payload_parts()
    assert len(pieces) == 2
    covered = merged.covered_bytes(pieces)
    assert b"".join(pieces)[:covered] == first.payload()  # the head's record is past the tickets
    again = Batch.merge([encoded(0, 2), encoded(2, 3)])
    left, right = again.split(3)  # a cut inside the second piece
    assert (numbers(left), numbers(right)) == ([0, 1, 2], [3, 4])
