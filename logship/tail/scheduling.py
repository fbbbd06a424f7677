"""Scheduling: when the tailer looks at a file again, and how many files it keeps open.

A file that returned data is due again at once; a file at its end 25 ms later, then at doubling
intervals while it stays quiet, up to 8 x `poll_interval`. A quiet file gets a one-shot watch
(`logship.tail.file_wake`) so its next write makes it due at once; the timer stays as the
safety net. Files beyond `max_open_files` wait in `FileSlots` for a free slot.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from logship.tail.files import InputRuntime

MAX_IDLE_BACKOFF = 8  # a quiet file is polled every 8 x poll_interval at most
FIRST_RECHECK = 0.025  # a file just read to its end is checked again this soon, then doubling
WATCH_AFTER = 2  # empty reads in a row before a file is watched for its next write
QUIET = 1.0  # seconds without data after which a woken file is watched again at its end
MISSES_BEFORE_POLLING = 3  # writes a file's watch did not report before it is only polled
SETTLED_AFTER = 4  # empty re-checks (~375 ms) after which an unwatched file counts as quiet
MIN_RESCAN_GAP = 0.1  # seconds between event-triggered rescans


def idle_delay(
    idle_polls: int, poll_interval: float, close_inactive: float, idle: float, watched: bool
) -> float:
    """Seconds until a file found at its end is checked again.

    Without a watch (`watched` False: none armed, or something to flush or a slot to give up
    in time), quiet files are re-checked at doubling intervals; a watched one reports its next
    write, so its timer is only the safety net (and the `close_inactive` clock).
    """
    delay = poll_interval * MAX_IDLE_BACKOFF
    if not watched:
        return min(FIRST_RECHECK * float(2 ** min(idle_polls - 1, 30)), delay)
    return max(FIRST_RECHECK, min(delay, close_inactive - idle))


def on_grid(when: float, delay: float) -> float:
    """`when`, rounded up to a multiple of an eighth to a quarter of `delay`.

    Every file's polls fall on the same grid, so quiet files come due together and are polled
    in one round (one wake-up of the thread), where wake-ups would otherwise scatter their
    schedules into a round each.
    """
    quantum = FIRST_RECHECK
    while quantum * 8 <= delay:
        quantum *= 2
    return math.ceil(when / quantum) * quantum


class FileSlots:
    """Matched files waiting for one of the `max_open_files` slots, first come first served
    (the tailer counts the slots: its limit may change while it runs)."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[InputRuntime, str]] = deque()
        self._paths: set[str] = set()

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self, inp: InputRuntime, path: str) -> None:
        """Queues `path` for a slot (once)."""
        if path not in self._paths:
            self._waiting.append((inp, path))
            self._paths.add(path)

    def next(self) -> tuple[InputRuntime, str]:
        """The longest waiting file (the caller checks that one waits and a slot is free)."""
        inp, path = self._waiting.popleft()
        self._paths.discard(path)
        return inp, path

    def rebind(self, inputs: Mapping[str, InputRuntime]) -> None:
        """After a reload: waiting files of removed inputs go, the others take the new input."""
        self._waiting = deque(
            (inputs[inp.name], path) for inp, path in self._waiting if inp.name in inputs
        )
        self._paths = {path for _, path in self._waiting}
