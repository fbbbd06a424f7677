"""PollSchedule: when each open file is next due for a read, as a heap.

A tailer round reads only the files that are due, so its cost follows the files that need
work, not every open file: with 1,000 quiet files, a wake-up that reads one of them should
not walk the other 999. Entries are replaced lazily: setting a file's time pushes a new entry
and the old one is skipped when it comes up (the heap is rebuilt if stale entries pile up).
"""

from __future__ import annotations

import heapq
import itertools


class PollSchedule:
    """File keys by the monotonic time they are due next; each key is due at one time."""

    def __init__(self) -> None:
        self._when: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()  # ties go in the order they were set

    def __len__(self) -> int:
        return len(self._when)

    def set(self, key: str, when: float) -> None:
        """Makes `key` due at `when` (replacing its previous time)."""
        if self._when.get(key) == when:
            return
        self._when[key] = when
        heapq.heappush(self._heap, (when, next(self._order), key))
        if len(self._heap) > 4 * len(self._when) + 64:
            self._heap = [(w, next(self._order), k) for k, w in self._when.items()]
            heapq.heapify(self._heap)

    def when(self, key: str) -> float | None:
        """When `key` is due, or None if it is not scheduled."""
        return self._when.get(key)

    def remove(self, key: str) -> None:
        """Forgets `key` (its file was closed)."""
        self._when.pop(key, None)

    def due(self, now: float) -> list[str]:
        """Takes every key due at `now` or earlier, earliest first; they must be set again."""
        heap = self._heap
        keys: list[str] = []
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            if self._when.get(key) == when:
                del self._when[key]
                keys.append(key)
        return keys

    def next(self) -> float | None:
        """The earliest time a key is due, or None when none is scheduled."""
        heap = self._heap
        while heap and self._when.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
