"""Seeds: an alert rule's groups seen once, below its threshold, kept apart from its groups.

With `group_by` a source address, most groups are seen once and never again. Such a group is
kept as a seed `(t, n, now)` (its first records, all at one event time, and the clock time)
in a table of its own, bounded like the groups (`max_groups`), oldest out first. A seed seen
again becomes a group. So one-off keys (a scan from many addresses) push out only other
one-off keys, never the groups that came back (the ones a threshold is about).

`SeedTable` is the compiled one (`parsers._fastscan.SeedTable`: plain C memory, which the
compiled selection's counts seed directly) when the extension is on, else `PySeedTable`;
both answer every operation alike (tests run both).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, cast

from parsers import native_chunk

GroupKey = tuple[str, ...]

Seed = tuple[float, int, float]
"""(event time, records, clock time): a group's first records, all at one time and fewer than
the threshold."""


class Seeds(Protocol):
    """A rule's seeds, oldest first, at most `capacity`."""

    capacity: int

    def __len__(self) -> int:
        """How many seeds."""

    def __contains__(self, key: object) -> bool:
        """Whether `key` has a seed."""

    def put(self, key: GroupKey, t: float, n: int, now: float) -> bool:
        """A seed for a key without one, the newest; True when the oldest was dropped for it."""

    def take(self, key: GroupKey) -> Seed | None:
        """The key's seed, no longer held (None when it has none)."""

    def join(self, key: GroupKey) -> Seed | None:
        """`key` is a group's now: its seed, taken (None when it had none). The compiled
        table keeps the key, so that the compiled selection's counts tell new groups from
        known ones by their bytes alone; the group table says when one goes (`leave`)."""

    def leave(self, key: GroupKey) -> None:
        """`key` is no longer a group's (its group was dropped)."""

    def items(self) -> list[tuple[GroupKey, Seed]]:
        """Every seed, oldest first."""

    def forget(self, before: float) -> int:
        """Drops the oldest seeds while their clock time is at or before `before`; how many."""


class PySeedTable:
    """`Seeds` in Python (the extension off)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a SeedTable holds at least one seed")
        self.capacity = capacity
        self._seeds: OrderedDict[GroupKey, Seed] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seeds)

    def __contains__(self, key: object) -> bool:
        return key in self._seeds

    def put(self, key: GroupKey, t: float, n: int, now: float) -> bool:
        """See `Seeds.put`."""
        if key in self._seeds:
            raise KeyError(key)
        dropped = len(self._seeds) >= self.capacity
        if dropped:
            self._seeds.popitem(last=False)
        self._seeds[key] = (float(t), int(n), float(now))
        return dropped

    def take(self, key: GroupKey) -> Seed | None:
        """See `Seeds.take`."""
        return self._seeds.pop(key, None)

    def join(self, key: GroupKey) -> Seed | None:
        """See `Seeds.join` (here only the seed is taken: no compiled counts ask)."""
        return self._seeds.pop(key, None)

    def leave(self, key: GroupKey) -> None:
        """See `Seeds.leave` (nothing to do here)."""

    def items(self) -> list[tuple[GroupKey, Seed]]:
        """See `Seeds.items`."""
        return list(self._seeds.items())

    def forget(self, before: float) -> int:
        """See `Seeds.forget`."""
        dropped = 0
        while self._seeds and next(iter(self._seeds.values()))[2] <= before:
            self._seeds.popitem(last=False)
            dropped += 1
        return dropped


def seed_table(capacity: int) -> Seeds:
    """The compiled SeedTable when the extension is on, else `PySeedTable`."""
    if native_chunk.ENABLED:
        return cast(Seeds, native_chunk._fastscan.SeedTable(capacity))
    return PySeedTable(capacity)
