"""Batch: the unit that moves between threads, from the tailer through a sink queue to a sink.

A batch holds its records in one of two forms:

- `entries`: the LogEntry dicts, for sinks that look at fields (index or topic templates,
  document ids);
- `parts`: the records already encoded, one JSON line each, for sinks that only need the text
  (file, stdout, Kafka with a fixed topic). The tailer encodes a chunk right after parsing it,
  while its records are still in the CPU cache, and drops the dicts: measured on the built-in
  nginx rule, this roughly halves the CPU per line, because a queue of record trees costs
  cache misses and cycle-collector scans, and encoding them later in another thread finds
  them cold.

Either way `len(batch)` is the number of records, and `records()` / `payload()` give the
other form when a rare path needs it (dead letters, a mixed merge). An encoded batch keeps the
pieces of the chunks it was merged from: a sink that can write them in turn (`payload_parts`,
the file sink's `writev`) never has them copied into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from logship.core.ack import Ticket
from logship.core.ndjson import encode_ndjson
from logship.core.record import LogEntry


@dataclass(slots=True)
class Batch:
    """Records plus the tickets to acknowledge once a sink has durably accepted all of them.

    A chunk from one file is a small batch; a sink worker merges several into one send and may
    split a large one. The tickets always travel with the *last* part of a split chunk, and a sink
    worker resolves its batches in order, so acking a batch's tickets never acknowledges a line
    that has not been delivered.
    """

    entries: list[LogEntry]
    tickets: list[Ticket] = field(default_factory=list)
    nbytes: int = 0
    """Size of the input the records came from: an estimate used for byte bounds, not exact."""
    parts: list[bytes] | None = None
    """The records as JSON lines, when the batch is in encoded form (`entries` is then empty):
    one piece per chunk, each of whole lines. A merge keeps the pieces rather than copy them
    into one (a sink thread's biggest cost, measured: RESULTS.md); `ndjson` joins them."""
    count: int = 0
    """Number of records in encoded form."""
    untracked: int = 0
    """How many records at the end are not covered by `tickets`: the head of a chunk split
    across sends (its tickets travel with the tail), or a retry subset. An exactly-once sink
    must not store them as checkpointed with this batch's progress."""

    @classmethod
    def encoded(cls, ndjson: bytes, count: int, tickets: list[Ticket], nbytes: int) -> Batch:
        """A batch of `count` records given as NDJSON."""
        return cls([], tickets, nbytes, [ndjson], count)

    def __len__(self) -> int:
        return self.count if self.parts is not None else len(self.entries)

    @property
    def ndjson(self) -> bytes | None:
        """The records as one NDJSON bytes object in encoded form (pieces joined on first use),
        else None."""
        parts = self.parts
        if parts is None:
            return None
        if len(parts) != 1:
            self.parts = parts = [b"".join(parts)]
        return parts[0]

    def records(self) -> list[LogEntry]:
        """The records as dicts (decoded from the NDJSON when the batch is encoded)."""
        if self.parts is None:
            return self.entries
        return [orjson.loads(line) for line in self.lines()]

    def lines(self) -> list[bytes]:
        """One JSON document per record, without newlines."""
        lines: list[bytes] = []
        for part in self.payload_parts():
            lines += part.split(b"\n")[:-1]
        return lines

    def payload(self) -> bytes:
        """The records as NDJSON (encoded now when the batch holds dicts)."""
        ndjson = self.ndjson
        return ndjson if ndjson is not None else encode_ndjson(self.entries)

    def payload_parts(self) -> list[bytes]:
        """The NDJSON in pieces of whole lines, for a sink that can write them one after the
        other without joining them first (encoded now when the batch holds dicts)."""
        return self.parts if self.parts is not None else [encode_ndjson(self.entries)]

    def split(self, k: int) -> tuple[Batch, Batch]:
        """The first `k` records (no tickets) and the rest (with the tickets)."""
        head_bytes = self.nbytes * k // max(len(self), 1)
        rest = min(self.untracked, len(self) - k)
        if self.ndjson is None:
            return (
                Batch(self.entries[:k], [], head_bytes, untracked=k),
                Batch(self.entries[k:], self.tickets, self.nbytes - head_bytes, untracked=rest),
            )
        ndjson = self.ndjson
        assert ndjson is not None
        cut = _after_line([ndjson], k)
        head = Batch.encoded(ndjson[:cut], k, [], head_bytes)
        head.untracked = k
        tail = Batch.encoded(ndjson[cut:], self.count - k, self.tickets, self.nbytes - head_bytes)
        tail.untracked = rest
        return head, tail

    def subset(self, indices: Sequence[int]) -> Batch:
        """A batch of the records at `indices` (no tickets), in the same form."""
        nbytes = self.nbytes * len(indices) // max(len(self), 1)
        if self.parts is None:
            return Batch([self.entries[i] for i in indices], [], nbytes, untracked=len(indices))
        lines = self.lines()
        part = Batch.encoded(b"".join(lines[i] + b"\n" for i in indices), len(indices), [], nbytes)
        part.untracked = len(indices)
        return part

    @staticmethod
    def merge(parts: Iterable[Batch]) -> Batch:
        """One batch of all the parts' records and tickets, in order.

        Encoded when every part is (a sink receives encoded parts only if it takes NDJSON;
        then dict parts from other inputs are encoded too), otherwise dicts.
        """
        parts = list(parts)
        tickets = [t for p in parts for t in p.tickets]
        nbytes = sum(p.nbytes for p in parts)
        untracked = _untracked_tail(parts)
        if not any(p.parts is not None for p in parts):
            entries: list[LogEntry] = []
            for p in parts:
                entries.extend(p.entries)
            return Batch(entries, tickets, nbytes, untracked=untracked)
        pieces: list[bytes] = []
        try:
            for p in parts:
                pieces += p.payload_parts()
        except orjson.JSONEncodeError:
            # A dict part holds a record JSON cannot express: keep dicts, so that the sink
            # worker can dead-letter exactly that record and send the others.
            records = [r for p in parts for r in p.records()]
            return Batch(records, tickets, nbytes, untracked=untracked)
        count = sum(len(p) for p in parts)
        return Batch([], tickets, nbytes, pieces, count, untracked)

    def covered_bytes(self, parts: Sequence[bytes]) -> int:
        """Bytes of `parts` (this batch's `payload_parts()`, or its `payload()` alone) taken by
        the records `tickets` cover."""
        covered = len(self) - self.untracked
        if covered <= 0:
            return 0
        return sum(map(len, parts)) if self.untracked == 0 else _after_line(parts, covered)


def _untracked_tail(parts: list[Batch]) -> int:
    """Records after the last part that carries tickets (all records when none does)."""
    count = 0
    for part in reversed(parts):
        if part.tickets:
            return count + part.untracked
        count += len(part)
    return count


def _after_line(parts: Sequence[bytes], k: int) -> int:
    """Offset just after the k-th newline of the pieces one after the other (k >= 1)."""
    done = 0
    for data in parts:
        pos = 0
        while k:
            pos = data.find(b"\n", pos) + 1
            if not pos:
                break
            k -= 1
        if not k:
            return done + pos
        done += len(data)
    raise ValueError("fewer lines than asked")
