"""Handoff: a bounded FIFO of chunks from the tailer thread to the alerts thread.

The tailer hands the engine each chunk's selected lines and records (`AlertEngine.observe_selected`)
and goes on to its next chunk; the alerts thread (`AlertRuntime`) takes them in order, has
the compiled selection decide and count them (`Selected.count`, which releases the GIL for its
loop, so it runs on the second core while the tailer encodes) and runs the rules. Nothing is
dropped: when `capacity` chunks wait, the tailer waits too (the same backpressure as a full
sink queue), so alerts never fall more than a few chunks behind the log and the chunks held
stay bounded.

Before `open` and after `close` a chunk is evaluated on the thread that hands it over, as when
there is no alerts thread at all (tests, tools). `close` lets the alerts thread evaluate what
is queued first, and hands-over wait meanwhile, so a chunk is never evaluated on two threads
at once and the order of chunks is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

CAPACITY = 8
"""Chunks that may wait for the alerts thread (a chunk is up to `read_buffer_bytes` of lines)."""

State = Literal["inline", "queued", "closing"]


class Closed:
    """What `_take` returns once the hand-off is closed and drained: `serve` returns."""


CLOSED = Closed()


class Handoff(Generic[T]):
    """Chunks evaluated in order by `evaluate`, on the thread that `serve`s while open."""

    def __init__(self, evaluate: Callable[[T], None], capacity: int = CAPACITY) -> None:
        self.evaluate = evaluate
        self.capacity = capacity
        self._items: deque[T] = deque()
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
                self._items.append(item)
                self._cond.notify_all()
                return
        self.evaluate(item)

    def serve(self, tick: Callable[[], None], interval: float) -> None:
        """The alerts thread's loop: evaluates the chunks in order, calls `tick` every
        `interval` seconds, and returns once closed and drained. An error in one chunk or tick
        is logged, and the loop goes on."""
        next_tick = time.monotonic() + interval
        while True:
            chunk = self._take(next_tick)
            if isinstance(chunk, Closed):
                return
            try:
                if chunk is not None:
                    self.evaluate(chunk)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + interval
                    tick()
            except Exception:
                log.exception("Alert evaluation failed.")
            finally:
                if chunk is not None:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()

    def _take(self, deadline: float) -> T | Closed | None:
        """The oldest chunk (then `_busy` until it is evaluated); None at `deadline` (monotonic)
        without one; CLOSED once closed and drained (then the hand-off evaluates inline)."""
        with self._cond:
            while not self._items and self._state == "queued":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._items:
                self._busy = True
                item = self._items.popleft()
                self._cond.notify_all()
                return item
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
