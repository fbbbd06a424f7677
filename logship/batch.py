"""Batch: the unit that moves between threads, from the tailer through a sink queue to a sink."""

from __future__ import annotations

from dataclasses import dataclass, field

from logship.ack import Ticket
from logship.record import LogEntry


@dataclass(slots=True)
class Batch:
    """Entries plus the tickets to acknowledge once a sink has durably accepted all of them.

    A chunk from one file is a small batch; a sink worker merges several into one send and may
    split a large one. The tickets always travel with the *last* part of a split chunk, and a sink
    worker resolves its batches in order, so acking a batch's tickets never acknowledges a line
    that has not been delivered.
    """

    entries: list[LogEntry]
    tickets: list[Ticket] = field(default_factory=list)
    nbytes: int = 0
    """Size of the input the entries came from: an estimate used for byte bounds, not exact."""

    def __len__(self) -> int:
        return len(self.entries)
