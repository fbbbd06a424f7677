"""SinkQueue: the bounded buffer in front of one sink. When it is full the tailer blocks: backpressure.

Bounded by entries and by (input) bytes. A batch larger than the bounds is still admitted into
an empty queue, so one oversized chunk cannot deadlock the pipeline. The log file on disk is the
real buffer: while the queue is full nothing more is read, and nothing unread is ever lost.

A take lingers for more entries (`linger_ms`) only while the producer is still reading: once
the tailer has read everything there is and expects nothing more soon (`producer_idle`: no
file that just returned data is still being re-checked), what is queued goes at once, so a
line written to a quiet agent is not held for the linger time.

With `drop_oldest` (alert notifications, `logship.observe.alerts.outbox`) a full queue never
blocks the producer: the oldest batches are dropped to make room, and counted in `dropped`.

The hooks at the end (`delivered`, `spill_failed`, `failed`, `absorbing`, `spool_stats`) do
nothing here: they are what a sink with a disk spool overrides (`logship.deliver.spool.queue`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from logship.core.batch import Batch


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """A spool's state now, for /metrics, /status and `logship spool`."""

    nbytes: int
    records: int
    oldest: float
    """Unix time the oldest undelivered record was spooled (0 when empty)."""
    spooling: bool
    last_error: str


class SinkQueue:
    """A thread-safe FIFO of batches, bounded by entries and bytes, that hands out merged batches."""

    def __init__(self, max_events: int, max_bytes: int, drop_oldest: bool = False) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.drop_oldest = drop_oldest
        self.dropped = 0
        """Entries dropped: with `drop_oldest`, to make room (or because the queue was closed)."""
        self._items: deque[Batch] = deque()
        self._events = 0
        self._bytes = 0
        self._cond = threading.Condition()
        self._closed = False
        self._interrupted = False
        self._producer_idle = False
        self._want: tuple[int, int] | None = None
        """What a lingering take still lacks (entries, bytes): puts that do not bring it wake
        no one. None: any put wakes a waiting take."""

    @property
    def events(self) -> int:
        """Entries currently queued."""
        return self._events

    @property
    def nbytes(self) -> int:
        """Input bytes currently queued."""
        return self._bytes

    def put(self, batch: Batch) -> bool:
        """Queues a batch, blocking while the queue is full. False if interrupted before it fit.

        With `drop_oldest` it queues at once, dropping the oldest batches while it does not fit."""
        n = len(batch)
        if self.drop_oldest:
            return self._put_dropping(batch, n)
        with self._cond:
            while (
                self._items
                and not self._interrupted
                and (
                    self._events + n > self.max_events
                    or self._bytes + batch.nbytes > self.max_bytes
                )
            ):
                self._full()
                self._cond.wait()
            if self._interrupted or self._closed:
                return False
            self._items.append(batch)
            self._events += n
            self._bytes += batch.nbytes
            self._producer_idle = False
            self._wake_taker()
            return True

    def _wake_taker(self) -> None:
        """After a put: wakes a waiting take, unless it lingers for more than is queued now.

        A take lingering to fill its batch is woken once the queue holds enough to fill it (or
        by its deadline), not by every chunk: each wake-up of the sink thread is a context
        switch and a GIL hand-over that the tailer pays for (measured on 4M nginx lines, one
        worker: 11,400 wake-ups of the sink thread before, 4,700 after; RESULTS.md).
        """
        want = self._want
        if want is None or self._events >= want[0] or self._bytes >= want[1]:
            self._cond.notify_all()

    def _full(self) -> None:
        """A put is about to wait for room: a lingering take goes with what is queued now
        rather than wait for entries that cannot come (a batch bound above the queue's)."""
        if self._want is not None:
            self._cond.notify_all()

    def _put_dropping(self, batch: Batch, n: int) -> bool:
        with self._cond:
            if self._closed:
                self.dropped += n
                return False
            while self._items and (
                self._events + n > self.max_events or self._bytes + batch.nbytes > self.max_bytes
            ):
                old = self._items.popleft()
                self._events -= len(old)
                self._bytes -= old.nbytes
                self.dropped += len(old)
            self._items.append(batch)
            self._events += n
            self._bytes += batch.nbytes
            self._cond.notify_all()
            return True

    def drain(self) -> list[Batch]:
        """Takes every queued batch out at once (a hand-over to another queue)."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self._events = 0
            self._bytes = 0
            self._cond.notify_all()
            return items

    def producer_idle(self) -> None:
        """The producer has read everything there is for now: a lingering take stops waiting."""
        with self._cond:
            if not self._producer_idle:
                self._producer_idle = True
                self._cond.notify_all()

    def interrupt_puts(self) -> None:
        """Makes blocked and future `put` calls return False at once (the tailer is stopping)."""
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()

    def close(self) -> None:
        """No more puts: `take` returns what is left, then None."""
        with self._cond:
            self._closed = True
            self._interrupted = True
            self._cond.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Waits until nothing is queued; True if that happened within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def take(self, max_events: int, max_bytes: int, linger: float) -> Batch | None:
        """The next batch of at most `max_events` entries and about `max_bytes` input bytes.

        Blocks until something is queued, then collects for up to `linger` seconds unless the
        batch fills first or the producer goes idle. Returns None when the queue is closed and
        empty.

        Queued chunks go whole while they fit. A chunk that does not fit is split to fill the
        batch only while the batch is under half full; otherwise the batch goes as it is and
        the chunk starts the next one. A split copies the chunk's NDJSON into two pieces: once
        merges stopped copying, splitting one chunk per batch was 70 of the 73 ns a line the
        sink thread spent in the queue (nginx records, 811-line chunks, `max_events: 2048`;
        RESULTS.md).
        """
        with self._cond:
            while not self._items:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + linger
            parts: list[Batch] = []
            events = 0
            nbytes = 0
            while True:
                while self._items and events < max_events and nbytes < max_bytes:
                    head = self._items[0]
                    n = len(head)
                    if parts and nbytes + head.nbytes > max_bytes and n > 0:
                        per_entry = head.nbytes / n
                        room = min(max_events - events, int((max_bytes - nbytes) / per_entry))
                    else:
                        room = max_events - events
                    if n <= room:
                        self._items.popleft()
                        parts.append(head)
                        events += n
                        nbytes += head.nbytes
                        self._events -= n
                        self._bytes -= head.nbytes
                        continue
                    if room <= 0 or events * 2 >= max_events or nbytes * 2 >= max_bytes:
                        break  # half full or more: the head chunk goes whole in the next batch
                    # Split: the head part goes now; the tickets stay with the tail part.
                    first, rest = head.split(room)
                    parts.append(first)
                    events += room
                    nbytes += first.nbytes
                    self._items[0] = rest
                    self._events -= room
                    self._bytes -= first.nbytes
                    break
                self._cond.notify_all()
                if events >= max_events or nbytes >= max_bytes or self._closed:
                    break
                if self._items:
                    break  # the head did not fit: send what we have
                if self._producer_idle:
                    break  # nothing more is being read: waiting would only add latency
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._want = (max_events - events, max_bytes - nbytes)
                self._cond.wait(remaining)
                self._want = None
        return parts[0] if len(parts) == 1 else Batch.merge(parts)

    # --- hooks a spooled queue overrides ---------------------------------------------------

    def delivered(self, batch: Batch) -> None:
        """The worker delivered `batch` (a spooled queue frees its spool space)."""

    def spill_failed(self, batch: Batch, pending: Batch, failing_for: float) -> bool:
        """The sink has failed for `failing_for` seconds sending `pending` (what is left of
        `batch`): True if `pending` is now durably spooled and `batch`'s tickets may be acked."""
        return False

    def failed(self, reason: str) -> None:
        """The last send failed for `reason`."""

    def parked(self, batch: Batch) -> bool:
        """True when the worker may stop retrying `batch` without acking it at shutdown
        (a spooled queue: the batch is durable in the spool and the queue is closed)."""
        return False

    @property
    def absorbing(self) -> bool:
        """True while a spool takes this sink's records so nothing waits on it (readiness)."""
        return False

    def spool_stats(self) -> SpoolStats | None:
        """The spool's state, or None without a spool."""
        return None
