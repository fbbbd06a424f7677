"""Runs: how the records (or counts) a chunk selected for each rule become window updates.

Rules and groups are independent, so the engine takes a chunk rule by rule and, within a rule,
group by group, each group's records in runs that share a `@timestamp` (a busy log writes many
per second): a run costs one window update, not one per record, and decides exactly as record
by record would (`Matched`, the engine's `_matched`, counts one run). Only the
least-recently-matched order of groups (which one `max_groups` evicts) follows the groups'
first records in the chunk rather than their last.

Records come two ways: as records (`observe_records`, the Python selecting loop and the general
path) or as the compiled selection's counts (`observe_count_sets`), one count per (rule, group,
`@timestamp` text), already in this order. A count that makes a new group below its threshold
(per source IP, nearly all of them) becomes a seed in C (`CountSet.observe`); the others come
to `observe_counts`, in order, so the table sees the same operations either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from logship.core.record import LogEntry, label_text
from logship.observe.alerts.group import Group, GroupKey
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.rule_state import LATENESS, RuleState
from parsers.selection import Counted, CountSet, Seeder

Matched = Callable[
    [RuleState, GroupKey, Sequence[LogEntry | bytes], int, int, float, float, list[Notification]],
    None,
]
"""`matched(rule, key, records, start, stop, t, now, out)`: counts `records[start:stop]`, of one
group and all at event time `t` (the engine's `_matched`)."""

Times = Callable[[object], float | None]
"""A `@timestamp` value as Unix seconds (`EventTimes.of`)."""


def observe_records(
    rule: RuleState,
    records: list[LogEntry],
    now: float,
    out: list[Notification],
    times: Times,
    matched: Matched,
) -> None:
    """One rule's matching records of a chunk, group by group (wall clock)."""
    rule.matches += len(records)
    if not rule.group_by:
        _runs(rule, (), records, now, out, times, matched)
        return
    groups: dict[Any, list[LogEntry]] = {}
    field = rule.group_by[0]
    if len(rule.group_by) == 1 and "." not in field:
        # One top-level field (the common case): grouped by its text, inline; the key
        # tuple is built once per group rather than per record.
        for record in records:
            value = record.get(field)
            text = value if value.__class__ is str else label_text(value)
            same = groups.get(text)
            if same is None:
                groups[text] = [record]
            else:
                same.append(record)
        for text, same in groups.items():
            _runs(rule, (text,), same, now, out, times, matched)
        return
    key_of = rule.key
    for record in records:
        key = key_of(record)
        same = groups.get(key)
        if same is None:
            groups[key] = [record]
        else:
            same.append(record)
    for key, same in groups.items():
        _runs(rule, key, same, now, out, times, matched)


def _runs(
    rule: RuleState,
    key: GroupKey,
    records: list[LogEntry],
    now: float,
    out: list[Notification],
    times: Times,
    matched: Matched,
) -> None:
    end = len(records)
    if end == 1:  # a group's only record of the chunk (per source IP, say): no run to find
        t = times(records[0].get("@timestamp"))
        matched(rule, key, records, 0, 1, now if t is None or t > now else t, now, out)
        return
    start = 0
    while start < end:
        stamp = records[start].get("@timestamp")
        stop = start + 1
        while stop < end and records[stop].get("@timestamp") == stamp:
            stop += 1
        found = times(stamp)
        matched(
            rule,
            key,
            records,
            start,
            stop,
            now if found is None or found > now else found,
            now,
            out,
        )
        start = stop


def observe_counts(
    rules: list[RuleState],
    counted: list[Counted],
    now: float,
    out: list[Notification],
    times: Times,
    matched: Matched,
) -> None:
    """The compiled selection's counts of a chunk, per (rule, group, `@timestamp`), in the
    order `observe_records` takes runs: each count is one run (its records are JSON lines,
    turned into records when a notification shows one). The same decisions as record by
    record, except that a group's records of one `@timestamp` are one run even when another
    time comes between them in the chunk."""
    last_stamp: Any = None
    t = now
    # Counts come rule by rule. A new group below its threshold (per source IP: nearly every
    # count) becomes a seed here, inline, as `matched` would make it through
    # `GroupTable.seed`: this loop is the per-IP rule's whole cost, so what it reads of the
    # rule and its table is held in locals, and its counters are added once per rule.
    current = -1
    rule = rules[0]
    table = rule.table
    groups, firing, max_groups = table.groups, table.firing, table.max_groups
    need, oldest = 0, 0.0
    matches = evicted = 0
    for index, key, stamp, n, records in counted:
        if index != current:
            rule.matches += matches
            table.evicted += evicted
            matches = evicted = 0
            current = index
            rule = rules[index]
            table = rule.table
            groups, firing, max_groups = table.groups, table.firing, table.max_groups
            need, oldest = rule.need, now - rule.width - LATENESS
        matches += n
        if stamp is not last_stamp:  # counts of a chunk share a few `@timestamp` objects
            last_stamp = stamp
            found = times(stamp)
            t = now if found is None or found > now else found
        if t > oldest:
            group = groups.get(key)
            if group is None:
                if n >= need:
                    matched(rule, key, records, 0, n, t, now, out)
                    continue
                if len(groups) >= max_groups:
                    gone, _ = groups.popitem(last=False)
                    if firing:
                        firing.pop(gone, None)
                    evicted += 1
                groups[key] = (t, n, now)
                continue
            # Two common cases of `matched`, without the checks that cannot apply: a
            # group that stays below its threshold (a trim only lowers the count) and
            # does not fire; a firing group that is silenced and not due for a resolve
            # check.
            if isinstance(group, Group) and not group.window.too_old(t):
                window = group.window
                if not group.firing and window.total + n < need:
                    groups.move_to_end(key)
                    window.add(t, n)
                    group.last_update = now
                    continue
                if group.firing and now < group.silenced_until and now < group.resolve_check:
                    groups.move_to_end(key)
                    window.add(t, n)
                    group.last_update = now
                    group.last_record = records[n - 1]  # what its resolve shows
                    continue
        matched(rule, key, records, 0, n, t, now, out)
    rule.matches += matches
    table.evicted += evicted


def observe_count_sets(
    rules: list[RuleState],
    count_sets: list[CountSet],
    now: float,
    out: list[Notification],
    times: Times,
    matched: Matched,
) -> None:
    """The compiled selection's counts of a chunk: new groups below their threshold seeded by
    the CountSet itself, every other count through `observe_counts`, in order."""
    seeders = tuple(_seeder(rule, now) for rule in rules)

    def handle(counted: list[Counted]) -> None:
        observe_counts(rules, counted, now, out, times, matched)

    for counts in count_sets:
        for index, seeded, evicted in counts.observe(seeders, now, times, handle):
            rules[index].matches += seeded
            rules[index].table.evicted += evicted


def _seeder(rule: RuleState, now: float) -> Seeder:
    """What the CountSet needs to seed `rule`'s table as `observe_counts` would; None for a
    rule whose groups are not worth it (no `group_by`: one group) or never seeds (threshold 1)."""
    if not rule.group_by or rule.need <= 1:
        return None
    table = rule.table
    return (table.groups, table.firing, rule.need, table.max_groups, now - rule.width - LATENESS)
