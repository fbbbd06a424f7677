"""Handoff: a bounded FIFO of chunks from the tailer thread to the alerts thread.

The tailer hands the engine each chunk's selected lines and records (`AlertEngine.observe_selected`)
and goes on to its next chunk; the alerts thread (`AlertRuntime`) takes them in order, a batch
at a time, has the compiled selection decide and count them (`parsers._fastscan.count_all`,
which releases the GIL once for the batch, so it runs on the second core while the tailer
encodes) and runs the rules. Batches keep the two threads from trading the GIL at every chunk:
the alerts thread is woken when a chunk arrives and again when `BATCH` chunks wait (or
`LATENCY` after the first), so alerts are at most a fraction of a second behind the log.

Nothing is dropped: when `capacity` chunks wait, the tailer waits too (the same backpressure as
a full sink queue), so the chunks held stay bounded.

Before `open` and after `close` a chunk is evaluated on the thread that hands it over, as when
there is no alerts thread at all (tests, tools). `close` lets the alerts thread evaluate what
is queued first, and hand-overs wait meanwhile, so no chunk is evaluated on two threads at once
and the order of chunks is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

CAPACITY = 16
"""Chunks that may wait for the alerts thread (a chunk is up to `read_buffer_bytes` of lines)."""

BATCH = 4
"""Chunks the alerts thread takes at once when the log is busy."""

LATENCY = 0.05
"""Seconds the first waiting chunk waits for others to fill a batch."""

State = Literal["inline", "queued", "closing"]


class Closed:
    """What `_take` returns once the hand-off is closed and drained: `serve` returns."""


CLOSED = Closed()


class Handoff(Generic[T]):
    """Chunks evaluated in order by `evaluate` (a batch at a time), on the thread that
    `serve`s while open, on the thread that `put`s them otherwise."""

    def __init__(
        self, evaluate: Callable[[list[T]], None], capacity: int = CAPACITY, batch: int = BATCH
    ) -> None:
        self.evaluate = evaluate
        self.capacity = capacity
        self.batch = batch
        self._items: list[T] = []
        self._first = 0.0
        """When the oldest waiting chunk came (monotonic)."""
        self._cond = threading.Condition()
        self._state: State = "inline"
        self._busy = False
        self.waits = 0
        """Hand-overs that waited for room (the alerts thread was behind)."""

    def open(self) -> None:
        """From now on `put` queues for `serve` (call before its thread starts)."""
        with self._cond:
            self._state = "queued"

    def put(self, item: T) -> None:
        """Queues `item` (waiting while `capacity` chunks wait), or evaluates it here when the
        hand-off is not open."""
        with self._cond:
            if self._state == "queued" and len(self._items) >= self.capacity:
                self.waits += 1
            while self._state == "closing" or (
                self._state == "queued" and len(self._items) >= self.capacity
            ):
                self._cond.wait()
            if self._state == "queued":
                items = self._items
                items.append(item)
                if len(items) == 1:
                    self._first = time.monotonic()
                    self._cond.notify_all()
                elif len(items) == self.batch:
                    self._cond.notify_all()
                return
        self.evaluate([item])

    def serve(self, tick: Callable[[], None], interval: float) -> None:
        """The alerts thread's loop: evaluates the chunks in order, calls `tick` every
        `interval` seconds, and returns once closed and drained. An error in a batch or a tick
        is logged, and the loop goes on."""
        next_tick = time.monotonic() + interval
        while True:
            batch = self._take(next_tick)
            if isinstance(batch, Closed):
                return
            try:
                if batch:
                    self.evaluate(batch)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + interval
                    tick()
            except Exception:
                log.exception("Alert evaluation failed.", extra={"chunks": len(batch)})
            finally:
                if batch:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()

    def _take(self, deadline: float) -> list[T] | Closed:
        """The waiting chunks, oldest first (then `_busy` until they are evaluated), once a
        batch waits, `LATENCY` after the first came, or at `deadline` (monotonic: [] if none
        came); CLOSED once closed and drained (then the hand-off evaluates inline)."""
        with self._cond:
            while self._state == "queued" and len(self._items) < self.batch:
                now = time.monotonic()
                until = min(deadline, self._first + LATENCY) if self._items else deadline
                if now >= until:
                    break
                self._cond.wait(until - now)
            if self._items:
                items, self._items = self._items, []
                self._busy = True
                self._cond.notify_all()
                return items
            if self._state == "queued":
                return []
            self._state = "inline"
            self._cond.notify_all()
            return CLOSED

    def flush(self, timeout: float) -> bool:
        """Waits until every chunk handed over so far is evaluated; False at the timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """No more queuing: `serve` evaluates what is queued, then returns."""
        with self._cond:
            if self._state == "queued":
                self._state = "closing"
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)
