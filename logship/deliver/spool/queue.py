"""SpooledQueue: a sink queue that spills to the sink's disk spool while the sink lags.

Normally it is the bounded in-memory `SinkQueue`. It starts **spooling** when the sink lags:

- the tailer's put has waited `SPILL_AFTER` seconds for room, or
- the sink worker's send has been failing for `SPILL_AFTER` seconds (`spill_failed`).

Spooling, in order: the batch the worker holds (if it failed), then every batch still in memory,
then every new put, are appended to the spool and fsynced; only then are their tickets acked
for this sink, so the files' checkpoints move on and the other sinks are never held back. The
worker takes from memory first (only what was queued before spooling started) and then from
the spool, frame after frame, at the sink's speed, while puts keep appending. Once the spool is
empty the queue goes back to memory. So records reach the sink in the order they were read.

When the spool is full: `block` makes the put wait for room (the tailer stops reading, as
without a spool); `drop_oldest` deletes the oldest segment and counts its records.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from logship.core.ack import AckTracker, Ticket
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.deliver.queue import SinkQueue, SpoolStats
from logship.deliver.spool.store import Recovery, SpoolRead, SpoolStore

log = logging.getLogger(__name__)

SPILL_AFTER = 0.5
"""Seconds a sink may hold its queue full, or keep failing, before its records go to the spool:
short enough that the other sinks' lag stays well under two seconds, long enough that a sink
that is merely busy for a moment is not spooled."""
FULL_RECHECK = 1.0
"""While a put waits for spool room, it rechecks this often (a failed write, e.g. disk full)."""


@dataclass(frozen=True, slots=True)
class SpoolMetrics:
    """One sink's spool counters, resolved once."""

    written: Any
    dropped_full: Any
    dropped_corrupt: Any
    corrupt_bytes: Any

    @classmethod
    def of(cls, metrics: Metrics, sink: str) -> SpoolMetrics:
        """The children labelled with `sink`."""
        return cls(
            metrics.spool_records_written.labels(sink),
            metrics.spool_records_dropped.labels(sink, "full"),
            metrics.spool_records_dropped.labels(sink, "corrupt"),
            metrics.spool_corrupt_bytes.labels(sink),
        )


class SpooledQueue(SinkQueue):
    """A `SinkQueue` backed by a `SpoolStore` (already opened) for one sink."""

    def __init__(
        self,
        max_events: int,
        max_bytes: int,
        store: SpoolStore,
        when_full: Literal["block", "drop_oldest"],
        acks: AckTracker,
        metrics: SpoolMetrics,
        sink: str,
        takes_ndjson: bool = True,
    ) -> None:
        super().__init__(max_events, max_bytes)
        self.store = store
        self.when_full = when_full
        self.acks = acks
        self.m = metrics
        self.sink = sink
        self.takes_ndjson = takes_ndjson
        """False: the sink reads `batch.entries`, so spooled records are decoded for it."""
        self._spooling = False
        self._reading: tuple[Batch, SpoolRead] | None = None
        self._holding = False
        """The worker holds a batch taken from memory (perhaps the head part of a split chunk
        whose ticket travels with the part still queued)."""
        self._deferred: list[Ticket] = []
        """Tickets of queued batches moved to the spool while the worker held a memory batch:
        acked once that batch is delivered or spooled, since it may hold lines of theirs."""

    def open(self) -> Recovery:
        """Recovers the spool folder (torn or corrupt frames cut off, counted, logged); records a
        previous run spooled are delivered before anything new."""
        with self._cond:
            recovery = self.store.open()
            self._spooling = not self.store.empty
        if recovery.cut_bytes:
            self.m.corrupt_bytes.inc(recovery.cut_bytes)
        for problem in recovery.problems:
            log.error(
                "Spool damaged at start (a crash or a disk fault): cut off after the last good "
                "frame; what came before is delivered.",
                extra={"sink": self.sink, "problem": problem},
            )
        if not self.store.empty:
            log.info(
                "Spool holds records from a previous run; they are delivered first.",
                extra={"sink": self.sink, "records": self.store.records},
            )
        return recovery

    def close_store(self) -> None:
        """Closes the spool's files (at shutdown, after the worker stopped)."""
        with self._cond:
            self.store.close()

    # --- producer side -------------------------------------------------------------------

    def put(self, batch: Batch) -> bool:
        """Queues in memory, or spools when the sink lags; False if interrupted first."""
        n = len(batch)
        with self._cond:
            deadline = time.monotonic() + SPILL_AFTER
            while not self._spooling and self._items and not self._interrupted:
                if (
                    self._events + n <= self.max_events
                    and self._bytes + batch.nbytes <= self.max_bytes
                ):
                    break
                remaining = deadline - time.monotonic()
                self._full()
                if remaining <= 0:
                    if self._start_spooling(extra=batch):
                        return True
                    self._cond.wait()  # the spool cannot take it all now: wait for room
                else:
                    self._cond.wait(remaining)
            if self._interrupted or self._closed:
                return False
            if not self._spooling:
                self._items.append(batch)
                self._events += n
                self._bytes += batch.nbytes
                self._producer_idle = False
                self._wake_taker()
                return True
            return self._spool_put(batch)

    def _spool_put(self, batch: Batch) -> bool:
        """Appends to the spool (waiting for room with `block`); acks for this sink."""
        try:
            payload = batch.payload()
        except orjson.JSONEncodeError:
            payload = b""
        if (not payload and len(batch)) or not self.store.ever_fits(len(payload) + 64):
            # Records JSON cannot hold (the sink worker dead-letters them), or a chunk larger
            # than the whole spool: wait for the spool to empty, then queue them in memory, in
            # order (backpressure for this chunk, as without a spool).
            while self._spooling and not self._interrupted:
                self._cond.wait(FULL_RECHECK)
            if self._interrupted:
                return False
            self._items.append(batch)
            self._events += len(batch)
            self._bytes += batch.nbytes
            self._cond.notify_all()
            return True
        while not self._interrupted:
            if self._make_room(len(payload)) and self._append(payload, len(batch)):
                self.acks.ack(batch.tickets)
                self._producer_idle = False
                self._cond.notify_all()
                return True
            self._cond.wait(FULL_RECHECK)
        return False

    def _start_spooling(self, extra: Batch | None = None, front: Batch | None = None) -> bool:
        """Moves `front`, the queued batches and `extra` to the spool, in that order; False
        (nothing moved) when they do not all fit or cannot be encoded."""
        parts = ([front] if front is not None else []) + list(self._items)
        parts += [extra] if extra is not None else []
        try:
            payloads = [(p.payload(), len(p)) for p in parts]
        except orjson.JSONEncodeError:
            return False
        total = sum(len(p) + 64 for p, _ in payloads)
        if not self._make_room(total):
            return False
        written = 0
        try:
            for payload, count in payloads:
                self.store.append(payload, count)
                written += 1
        except OSError as exc:
            self._write_failed(exc)
            if written == 0:
                return False
            # Some are durable: keep spooling from there, the rest stays in order in memory.
            # (Unreachable in practice: the failure is a full or broken disk; see Known
            # limitations in docs/spool.md.)
        self.m.written.inc(sum(count for _, count in payloads[:written]))
        moved = parts[:written]
        queued = [p for p in moved if p is not front and p is not extra]
        for p in queued:
            self._items.popleft()
            self._events -= len(p)
            self._bytes -= p.nbytes
        self.acks.ack([t for p in moved if p is extra for t in p.tickets])
        queued_tickets = [t for p in queued for t in p.tickets]
        if self._holding and front is None:
            self._deferred += queued_tickets
        else:
            self.acks.ack(queued_tickets)
        self._spooling = True
        log.warning(
            "Sink lags: its records go to its disk spool.",
            extra={"sink": self.sink, "spool_bytes": self.store.nbytes},
        )
        self._cond.notify_all()
        return extra is None or any(p is extra for p in moved)

    def _make_room(self, payload_len: int) -> bool:
        """True once a payload of this size fits (dropping oldest segments with drop_oldest)."""
        if not self.store.ever_fits(payload_len):
            return False
        while not self.store.room_for(payload_len):
            if self.when_full != "drop_oldest" or self.store.empty:
                return False
            head = self.store.head_seq
            dropped = self.store.drop_oldest()
            reading = self._reading
            if reading is not None and reading[1].seq == head:
                # The worker holds these frames already and will deliver them: not lost.
                dropped -= sum(f.count for f in reading[1].frames)
            self.m.dropped_full.inc(dropped)
            log.warning(
                "Spool full: its oldest segment was dropped (when_full: drop_oldest).",
                extra={"sink": self.sink, "records": dropped},
            )
        return True

    def _append(self, payload: bytes, count: int) -> bool:
        try:
            self.store.append(payload, count)
        except OSError as exc:
            self._write_failed(exc)
            return False
        self.m.written.inc(count)
        return True

    def _write_failed(self, exc: OSError) -> None:
        log.error(
            "Spool write failed; the records wait (not acknowledged) and the write is retried.",
            extra={"sink": self.sink, "error": exc.strerror, "path": str(self.store.folder)},
        )

    # --- consumer side -------------------------------------------------------------------

    def take(self, max_events: int, max_bytes: int, linger: float) -> Batch | None:
        """Memory first (queued before spooling began), then the spool; None once closed."""
        with self._cond:
            while True:
                if self._items:
                    taken = super().take(max_events, max_bytes, linger)
                    self._holding = taken is not None
                    return taken
                if self._closed:
                    return None  # what is spooled stays spooled: durable, resumed next run
                if self._spooling:
                    batch = self._read_spool(max_events, max_bytes)
                    if batch is not None:
                        return batch
                self._cond.wait()

    def _read_spool(self, max_events: int, max_bytes: int) -> Batch | None:
        read, lost, problems = self.store.read(max_events, max_bytes)
        for problem in problems:
            self.m.dropped_corrupt.inc(lost)
            log.error(
                "Spool corrupt: the bad frame and the rest of its segment were cut off.",
                extra={"sink": self.sink, "problem": problem, "records": lost},
            )
            lost = 0
        if read is None:
            if self.store.empty:
                self._spooling = False
                self._cond.notify_all()
            return None
        payload = b"".join(f.payload for f in read.frames)
        count = sum(f.count for f in read.frames)
        batch = Batch.encoded(payload, count, [], len(payload))
        if not self.takes_ndjson:
            batch = Batch(batch.records(), [], len(payload))
        self._reading = (batch, read)
        return batch

    def delivered(self, batch: Batch) -> None:
        """A batch reached the sink: from the spool, its frames are done and segments may go;
        from memory, tickets deferred behind it are acked."""
        with self._cond:
            reading = self._reading
            if reading is None or reading[0] is not batch:
                self._release_held()
                return
            self._reading = None
            self.store.delivered(reading[1])
            if self.store.empty:
                self._spooling = False
            self._cond.notify_all()

    def _release_held(self) -> None:
        self._holding = False
        deferred, self._deferred = self._deferred, []
        if deferred:
            self.acks.ack(deferred)

    def spill_failed(self, batch: Batch, pending: Batch, failing_for: float) -> bool:
        """Spools the batch the worker cannot deliver, ahead of everything spooled after it."""
        if failing_for < SPILL_AFTER:
            return False
        with self._cond:
            reading = self._reading
            if reading is not None and reading[0] is batch:
                return False  # already spooled: retried until it goes
            if not self._spooling:
                if not self._start_spooling(front=pending):
                    return False
                self._release_held()
                return True
            # The worker held this batch since before spooling began, so nothing of the spool
            # has been read yet: it goes in front, keeping the order.
            try:
                payload = pending.payload()
            except orjson.JSONEncodeError:
                return False
            if not self._make_room(len(payload)):
                return False
            try:
                self.store.prepend(payload, len(pending))
            except OSError as exc:
                self._write_failed(exc)
                return False
            self.m.written.inc(len(pending))
            self._release_held()
            self._cond.notify_all()
            return True

    def parked(self, batch: Batch) -> bool:
        """At shutdown a spooled batch need not wait for a sink that is down: it stays in the
        spool and goes first next run."""
        with self._cond:
            reading = self._reading
            return self._closed and reading is not None and reading[0] is batch

    def failed(self, reason: str) -> None:
        """Kept in the spool's state for `logship spool`."""
        with self._cond:
            self.store.failed(reason)

    @property
    def absorbing(self) -> bool:
        """True while spooling with room left (or dropping the oldest to make some)."""
        with self._cond:
            if not self._spooling:
                return False
            return self.store.room_for(64 * 1024) or self.when_full == "drop_oldest"

    def spool_stats(self) -> SpoolStats:
        """Size, records, oldest record and last error, now."""
        with self._cond:
            s = self.store
            return SpoolStats(s.nbytes, s.records, s.oldest, self._spooling, s.last_error)
