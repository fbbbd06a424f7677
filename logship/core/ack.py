"""Acknowledgements: which byte ranges of which files every sink has durably accepted.

The tailer registers a `Ticket` per chunk of lines *before* it queues the chunk; each sink the
chunk was routed to acks the ticket once it has delivered (or dead-lettered) every entry of it.
Per file, the tracker keeps the **watermark**: the offset below which every line is acknowledged.
Tickets may be acknowledged out of order (several sinks, several batches); the watermark only
moves over a contiguous run of fully acknowledged tickets, so a checkpoint never passes a line a
sink has not accepted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable


class Ticket:
    """The pending acknowledgement of one chunk: the file range up to `end` and how many sinks owe it."""

    __slots__ = ("end", "file", "pending")

    def __init__(self, file: _FileAcks, end: int, pending: int) -> None:
        self.file = file
        self.end = end
        self.pending = pending

    @property
    def done(self) -> bool:
        """True once every sink the chunk was routed to has acknowledged it."""
        return self.pending <= 0


class _FileAcks:
    """Per file state. Replaced wholesale by `AckTracker.reset`, so stale tickets ack into nothing."""

    __slots__ = ("in_flight", "watermark")

    def __init__(self, watermark: int) -> None:
        self.watermark = watermark
        self.in_flight: deque[Ticket] = deque()


class AckTracker:
    """Computes, per file key, the contiguous acknowledged offset. Thread-safe; O(1) amortised per ticket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, _FileAcks] = {}

    def track(self, file_key: str, offset: int) -> None:
        """Starts tracking a file whose lines below `offset` need no acknowledgement (resumed or skipped)."""
        with self._lock:
            if file_key not in self._files:
                self._files[file_key] = _FileAcks(offset)

    def reset(self, file_key: str, offset: int) -> None:
        """Restarts a file at `offset` (it was truncated): tickets issued before are forgotten."""
        with self._lock:
            self._files[file_key] = _FileAcks(offset)

    def forget(self, file_key: str) -> None:
        """Stops tracking a file (closed for good, its checkpoint kept by the store)."""
        with self._lock:
            self._files.pop(file_key, None)

    def register(self, file_key: str, end: int, sinks: int) -> Ticket:
        """A ticket for the lines of `file_key` up to offset `end`, owed by `sinks` sinks.

        With `sinks == 0` (every line of the chunk dropped) the ticket is done at once.
        """
        with self._lock:
            state = self._files.get(file_key)
            if state is None:
                raise KeyError(f"file {file_key!r} is not tracked")
            ticket = Ticket(state, end, sinks)
            state.in_flight.append(ticket)
            if sinks <= 0:
                self._advance(state)
            return ticket

    def ack(self, tickets: Iterable[Ticket]) -> None:
        """One sink has durably accepted (or dead-lettered) the chunks of these tickets."""
        with self._lock:
            touched: set[int] = set()
            states: list[_FileAcks] = []
            for ticket in tickets:
                ticket.pending -= 1
                if ticket.pending <= 0 and id(ticket.file) not in touched:
                    touched.add(id(ticket.file))
                    states.append(ticket.file)
            for state in states:
                self._advance(state)

    @staticmethod
    def _advance(state: _FileAcks) -> None:
        queue = state.in_flight
        while queue and queue[0].pending <= 0:
            state.watermark = queue.popleft().end

    def watermark(self, file_key: str) -> int | None:
        """The acknowledged offset of one file, or None when it is not tracked."""
        with self._lock:
            state = self._files.get(file_key)
            return None if state is None else state.watermark

    def watermarks(self) -> dict[str, int]:
        """A snapshot of every tracked file's acknowledged offset."""
        with self._lock:
            return {key: state.watermark for key, state in self._files.items()}

    def in_flight(self, file_key: str) -> int:
        """How many chunks of this file are registered but not yet acknowledged by every sink."""
        with self._lock:
            state = self._files.get(file_key)
            return 0 if state is None else len(state.in_flight)

    def after(self, tickets: Iterable[Ticket]) -> dict[str, int]:
        """Every tracked file's acknowledged offset as it will be once `tickets` are acked by
        one more sink; changes nothing (exactly-once sinks store it with the batch)."""
        with self._lock:
            owed: dict[int, int] = {}
            for ticket in tickets:
                owed[id(ticket)] = owed.get(id(ticket), 0) + 1
            marks: dict[str, int] = {}
            for key, state in self._files.items():
                mark = state.watermark
                for ticket in state.in_flight:
                    if ticket.pending - owed.get(id(ticket), 0) > 0:
                        break
                    mark = ticket.end
                marks[key] = mark
            return marks
