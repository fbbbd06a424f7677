"""Groups: one state per `group_by` value set, in a table bounded by `max_groups` (LRU).

A group seen once, below its threshold, is kept as a seed (`logship.observe.alerts.seeds`)
until it is seen again, in a table of seeds bounded by `max_groups` too: with `group_by` a
source IP, most groups are seen once and dropped unseen, a seed costs a fraction of a Group
with its window, and a flood of one-off keys pushes out only other seeds, never the groups
that came back. A seed is exactly the state its Group would have (which keeps no last record
until it fires).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from logship.core.record import LogEntry
from logship.observe.alerts.seeds import GroupKey, Seed, Seeds, seed_table
from logship.observe.alerts.window import SlidingWindow

__all__ = ["Group", "GroupKey", "GroupTable", "Seed"]


class Group:
    """One group of one rule: its window, whether it fires, its silence and its last record."""

    __slots__ = (
        "firing",
        "key",
        "last_record",
        "last_update",
        "resolve_check",
        "silenced_until",
        "started",
        "window",
    )

    def __init__(self, key: GroupKey, width: float, need: int) -> None:
        self.key = key
        self.window = SlidingWindow(width, need)
        self.firing = False
        self.started = 0.0
        """Event time the current incident started firing."""
        self.silenced_until = float("-inf")
        self.resolve_check = float("inf")
        """Clock time before which a firing group certainly cannot resolve."""
        self.last_record: LogEntry | bytes | None = None
        """The record that fired it, then the last one counted while it fires (what its
        resolve shows); None before it first fires. Or that record's JSON line (the compiled
        selection's counts), which `record` turns into the record when a notification needs it."""
        self.last_update = 0.0

    @classmethod
    def grown(cls, key: GroupKey, width: float, need: int, seed: Seed) -> Group:
        """The group a seed stands for."""
        group = cls(key, width, need)
        t, n, group.last_update = seed
        group.window.entries.append([t, n])
        group.window.total = n
        return group

    def record(self) -> LogEntry | None:
        """`last_record` as a record (built from its JSON line the first time it is asked for)."""
        record = self.last_record
        if isinstance(record, bytes):
            record = self.last_record = orjson.loads(record)
        return record


class GroupTable:
    """Groups by key, least recently matched first; full at `max_groups`, then the least
    recently matched group is evicted (counted) to make room for a new one. Beside them, the
    seeds of groups seen once (`seeds`), at most `max_groups` too, oldest dropped (counted)."""

    def __init__(self, max_groups: int, width: float, need: int) -> None:
        self.max_groups = max_groups
        self.width = width
        self.need = need
        self.groups: OrderedDict[GroupKey, Group] = OrderedDict()
        self.seeds: Seeds = seed_table(max_groups)
        self.firing: dict[GroupKey, Group] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.groups) + len(self.seeds)

    def get(self, key: GroupKey) -> Group:
        """The group for `key` (grown from its seed, or new), evicting the least recently
        matched group if full; now the newest."""
        found = self.groups.get(key)
        if found is not None:
            self.groups.move_to_end(key)
            return found
        self._make_room()
        seed = self.seeds.join(key)
        if seed is None:
            group = self.groups[key] = Group(key, self.width, self.need)
        else:
            group = self.groups[key] = Group.grown(key, self.width, self.need, seed)
        return group

    def seed(self, key: GroupKey, t: float, n: int, now: float) -> bool:
        """Adds a new group's first `n` records (fewer than the threshold), all at `t`: the
        state `get` then counting them would give. False (nothing done) when `key` is not new."""
        if key in self.groups or key in self.seeds:
            return False
        if self.seeds.put(key, t, n, now):
            self.evicted += 1
        return True

    def _make_room(self) -> None:
        if len(self.groups) >= self.max_groups:
            key, _ = self.groups.popitem(last=False)
            self.seeds.leave(key)
            self.firing.pop(key, None)
            self.evicted += 1

    def forget_idle(self, now: float, horizon: float, budget: int = 256) -> None:
        """Drops groups and seeds that can no longer matter: not firing, not silenced, and no
        record for `horizon` seconds. Looks at the `budget` least recently matched groups at
        most."""
        stale: list[GroupKey] = []
        for seen, (key, group) in enumerate(self.groups.items()):
            if seen >= budget or group.last_update > now - horizon:
                break
            if not group.firing and now >= group.silenced_until:
                stale.append(key)
        for key in stale:
            del self.groups[key]
            self.seeds.leave(key)
        self.seeds.forget(now - horizon)

    def export(self) -> list[dict[str, Any]]:
        """Every group as plain data (a hand-over to a new engine), oldest first: the seeds
        (as the groups they stand for), then the groups."""
        grown = [Group.grown(key, self.width, self.need, seed) for key, seed in self.seeds.items()]
        return [
            {
                "key": list(g.key),
                "entries": g.window.snapshot(),
                "total": g.window.total,
                "fell_at": g.window.fell_at,
                "firing": g.firing,
                "started": g.started,
                "silenced_until": g.silenced_until,
                "last_record": g.record(),
                "last_update": g.last_update,
            }
            for g in (*grown, *self.groups.values())
        ]

    def restore(self, groups: list[dict[str, Any]]) -> None:
        """Adopts exported groups: those that are just a seed's state as seeds, the others as
        groups (the newest `max_groups` of each); windows slide to this table's width and
        threshold on their next record."""
        for data in groups:
            key = tuple(data["key"])
            if _seed_state(data, self.need):
                (t, n), now = data["entries"][0], float(data["last_update"])
                self.seed(key, float(t), int(n), now)
                continue
            group = self.get(key)
            window = group.window
            for t, n in data["entries"]:
                window.entries.append([t, n])
            window.total = int(data["total"])
            window.fell_at = float(data["fell_at"])
            while len(window.entries) > window.cap:
                oldest = window.entries.popleft()
                window.entries[0][0] = oldest[0]
                window.entries[0][1] += oldest[1]
            if window.entries:
                window.trim(window.entries[-1][0])
            group.firing = bool(data["firing"])
            group.started = float(data["started"])
            group.silenced_until = float(data["silenced_until"])
            group.last_record = data["last_record"]
            group.last_update = float(data["last_update"])
            group.resolve_check = float("-inf") if group.firing else float("inf")
            if group.firing:
                self.firing[key] = group


def _seed_state(data: dict[str, Any], need: int) -> bool:
    """Whether an exported group is exactly what a seed holds: one entry of fewer records than
    `need`, never fired, never silenced, no count that fell."""
    entries = data["entries"]
    return (
        len(entries) == 1
        and int(entries[0][1]) == int(data["total"]) < need
        and not data["firing"]
        and data["last_record"] is None
        and float(data["silenced_until"]) == float("-inf")
        and float(data["fell_at"]) == float("-inf")
    )
