"""SlidingWindow: how many matching records fell in the last `width` seconds of event time.

Exact at the threshold: the window `(newest - width, newest]` is kept as a sorted run-length
list of event times (`[time, count]`, records of the same millisecond share an entry), so 19
records in 60 s do not fire a `count >= 20 within 60s` rule and 20 do, and a record exactly
`width` older than another is never in the same window as it (no double count at the edge).

Bounded: at most `need + 1024` entries. Beyond that the two oldest entries are merged under the
older time: they are never among the `need` newest records, so the threshold decision and the
time it stops holding stay exact; only the reported count may then fall short of the true count
by the merged records that expire a little early.
"""

from __future__ import annotations

from collections import deque

_SPARE_ENTRIES = 1024


class SlidingWindow:
    """Event times of the matching records of one group within `width` of the newest."""

    __slots__ = ("cap", "entries", "fell_at", "need", "total", "width")

    def __init__(self, width: float, need: int) -> None:
        self.width = width
        self.need = need
        self.cap = need + _SPARE_ENTRIES
        self.entries: deque[list[float]] = deque()
        self.total = 0
        self.fell_at = float("-inf")
        """When the count last fell below `need` (an expiry seen by `trim`)."""

    @property
    def newest(self) -> float:
        """The newest event time held (-inf when empty)."""
        return self.entries[-1][0] if self.entries else float("-inf")

    def too_old(self, t: float) -> bool:
        """True when a record at `t` would already be outside the window of the newest one."""
        return bool(self.entries) and t <= self.entries[-1][0] - self.width

    def add(self, t: float, n: int = 1) -> None:
        """Slides the window to `t` if it is the newest, then counts `n` records at `t` (callers
        skip `too_old` ones). The same as `n` calls with one record each."""
        entries = self.entries
        if entries and t > entries[-1][0]:
            self.trim(t)  # first: the count falls below `need` before this record arrives
        if not entries or t > entries[-1][0]:
            entries.append([t, n])
        elif t == entries[-1][0]:
            entries[-1][1] += n
        else:
            self._insert(t, n)
        self.total += n
        if len(entries) > self.cap:
            oldest = entries.popleft()
            entries[0][0] = oldest[0]
            entries[0][1] += oldest[1]

    def _insert(self, t: float, n: int) -> None:
        """Records older than the newest (files interleave): into their place from the right."""
        entries = self.entries
        index = len(entries) - 1
        while index > 0 and entries[index - 1][0] >= t:
            index -= 1
        if entries[index][0] == t:
            entries[index][1] += n
        elif index > 0 and entries[index - 1][0] == t:
            entries[index - 1][1] += n
        else:
            entries.insert(index, [t, n])

    def trim(self, now: float) -> None:
        """Forgets records at or before `now - width`, noting when the count fell below `need`."""
        limit = now - self.width
        entries = self.entries
        while entries and entries[0][0] <= limit:
            t, n = entries.popleft()
            before = self.total
            self.total -= int(n)
            if before >= self.need > self.total:
                self.fell_at = t + self.width

    def met_until(self) -> float:
        """The moment the count falls (or fell) below `need` if no newer record comes."""
        if self.total < self.need:
            return self.fell_at
        seen = 0
        for t, n in reversed(self.entries):
            seen += int(n)
            if seen >= self.need:
                return t + self.width
        return self.fell_at  # unreachable: total >= need

    def snapshot(self) -> list[list[float]]:
        """The entries, for a hand-over to a new engine."""
        return [list(e) for e in self.entries]
