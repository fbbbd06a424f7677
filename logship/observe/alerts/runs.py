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
(per source IP, nearly all of them) becomes a seed in C (`CountSet.observe`, into the rule's
`SeedTable`), and a count of a group that stays below its threshold or fires silenced (the two
fast cases of `observe_counts`) is counted into its window in C too; the others come to
`observe_counts`, in order, so the tables see the same operations either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logship.core.record import LogEntry, label_text
from logship.observe.alerts.group import Group, GroupKey
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.rule_state import LATENESS, RuleState
from parsers.selection import Counted, CountSet, RuleTable

Matched = Callable[
    [RuleState, GroupKey, Sequence[LogEntry | bytes], int, int, float, float, list[Notification]],
    None,
]
"""`matched(rule, key, records, start, stop, t, now, out)`: counts `records[start:stop]`, of one
group and all at event time `t` (the engine's `_matched`)."""

Times = Callable[[object], float | None]
"""A `@timestamp` value as Unix seconds (`EventTimes.of`)."""


@dataclass(slots=True)
class ChunkPass:
    """What every run of one chunk shares: the clock read for it, the notifications made so
    far, how a `@timestamp` becomes event time, and the engine's `matched`."""

    now: float
    out: list[Notification]
    times: Times
    matched: Matched

    def event_time(self, stamp: object) -> float:
        """`stamp` as event time: the clock when it has none or is ahead of the clock."""
        found = self.times(stamp)
        return self.now if found is None or found > self.now else found


def observe_records(rule: RuleState, records: list[LogEntry], chunk: ChunkPass) -> None:
    """One rule's matching records of a chunk, group by group (wall clock)."""
    rule.matches += len(records)
    if not rule.group_by:
        _runs(rule, (), records, chunk)
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
            _runs(rule, (text,), same, chunk)
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
        _runs(rule, key, same, chunk)


def _runs(rule: RuleState, key: GroupKey, records: list[LogEntry], chunk: ChunkPass) -> None:
    now, out, matched = chunk.now, chunk.out, chunk.matched
    end = len(records)
    start = 0
    while start < end:  # (a group's only record of the chunk, per source IP say: one turn)
        stamp = records[start].get("@timestamp")
        stop = start + 1
        while stop < end and records[stop].get("@timestamp") == stamp:
            stop += 1
        matched(rule, key, records, start, stop, chunk.event_time(stamp), now, out)
        start = stop


def observe_counts(rules: list[RuleState], counted: list[Counted], chunk: ChunkPass) -> None:
    """The compiled selection's counts of a chunk, per (rule, group, `@timestamp`), in the
    order `observe_records` takes runs: each count is one run (its records are JSON lines,
    turned into records when a notification shows one). The same decisions as record by
    record, except that a group's records of one `@timestamp` are one run even when another
    time comes between them in the chunk."""
    now, out, matched = chunk.now, chunk.out, chunk.matched
    last_stamp: Any = None
    t = now
    # Counts come rule by rule; what the loop reads of the rule is held in locals and its
    # match counter is added once per rule. New groups below their threshold were mostly
    # seeded by the CountSet already; the few left go through `matched` like the rest.
    current = -1
    rule = rules[0]
    groups = rule.table.groups
    need, oldest = 0, 0.0
    matches = 0
    for index, key, stamp, n, records in counted:
        if index != current:
            rule.matches += matches
            matches = 0
            current = index
            rule = rules[index]
            groups = rule.table.groups
            need, oldest = rule.need, now - rule.width - LATENESS
        matches += n
        if stamp is not last_stamp:  # counts of a chunk share a few `@timestamp` objects
            last_stamp = stamp
            t = chunk.event_time(stamp)
        if t > oldest:
            # Two common cases of `matched`, without the checks that cannot apply: a
            # group that stays below its threshold (a trim only lowers the count) and
            # does not fire; a firing group that is silenced and not due for a resolve
            # check.
            group = groups.get(key)  # (a Group: seeds are kept apart)
            if group is not None and not group.window.too_old(t):
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


def observe_count_sets(
    rules: list[RuleState],
    tables: tuple[RuleTable, ...],
    count_sets: list[CountSet],
    chunk: ChunkPass,
) -> None:
    """The compiled selection's counts of a chunk (`tables`: `rule_tables(rules)`): the two
    common cases of `observe_counts` and new groups below their threshold done by the
    CountSet itself, every other count through `observe_counts`, in order."""

    def handle(counted: list[Counted]) -> None:
        observe_counts(rules, counted, chunk)

    for counts in count_sets:
        for index, counted, evicted in counts.observe(tables, chunk.now, chunk.times, handle):
            rules[index].matches += counted
            rules[index].table.evicted += evicted


def rule_tables(rules: list[RuleState]) -> tuple[RuleTable, ...]:
    """What a CountSet needs of each rule's table to do what `observe_counts` and
    `GroupTable.seed` do (the same for every chunk): new groups become seeds when the rule
    has `group_by` and a threshold above one."""
    return tuple(
        (
            rule.table.groups,
            rule.need,
            rule.width + LATENESS,
            rule.table.seeds if rule.group_by and rule.need > 1 else None,
            Group,
            rule.width,
        )
        for rule in rules
    )
