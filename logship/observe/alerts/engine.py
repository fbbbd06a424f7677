"""AlertEngine: alert rules evaluated over chunks of records; emits firing and resolved notifications.

Per rule and group (the values of `group_by`), on each matching record:

1. its event time `t` is its `@timestamp` (clamped to the clock: a record from the future
   counts as now). A record older than the window plus `LATENESS` when it is read does not
   count (`late`): alerts are about what is happening now, so catching up on a backlog after
   a restart does not page anyone about the past;
2. `t` goes into the group's sliding window (event time, `window.SlidingWindow`);
3. when the window holds `need` records and the group is not silenced, the group fires: a
   `firing` notification, and no other for `silence` (counted on the clock);
4. a firing group resolves once its threshold has not been met for `quiet` (the rule's
   `resolve_after`): a `resolved` notification timed at that moment. This is checked on the
   group's next record and by `tick`, which the runtime calls every second so that quiet logs
   resolve too.

The clock is the wall clock, read once per chunk, or with `event_clock` the newest event time
seen (the preview replays yesterday's log at its own pace). State is per rule name and can be
handed to a new engine (`export` / `adopt`), so a config reload keeps windows, silences and
firing alerts of the rules it keeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from logship.core.record import LogEntry
from logship.observe.alerts.event_time import EventTimes
from logship.observe.alerts.group import Group, GroupKey
from logship.observe.alerts.notification import Notification, Status
from logship.observe.alerts.rule_state import LATENESS, RuleState
from logship.observe.alerts.runs import (
    ChunkPass,
    observe_count_sets,
    observe_records,
    rule_tables,
)
from logship.observe.alerts.settings import AlertRuleSettings
from logship.observe.alerts.template import window_text
from parsers.selection import Hits, RuleTable, Selection

log = logging.getLogger(__name__)

_IDLE_SWEEP_INTERVAL = 10.0


class AlertEngine:
    """Every alert rule; a RecordObserver for the tailer (`observe`) plus `tick` for resolves.

    `notify` receives each notification, outside the engine's lock, on the thread that
    observed or ticked: it must not block (the runtime puts it into bounded outboxes).
    """

    def __init__(
        self,
        rules: Sequence[AlertRuleSettings],
        notify: Callable[[Notification], None],
        host_name: str,
        clock: Callable[[], float] = time.time,
        event_clock: bool = False,
    ) -> None:
        self.rules = [RuleState(r) for r in rules]
        self.by_name = {r.name: r for r in self.rules}
        self.notify = notify
        self.host_name = host_name
        self.clock = clock
        self.event_clock = event_clock
        self.watermark = float("-inf")
        """event_clock: the newest event time seen (the clock)."""
        self._times = EventTimes()
        self._scans: dict[str, tuple[Selection, list[RuleState]]] = {}
        self._tables: dict[str, tuple[RuleTable, ...]] = {}
        """Per input, `rule_tables` of its rules (the compiled selection's counts)."""
        self._lock = threading.Lock()
        self._next_sweep = float("-inf")

    def __bool__(self) -> bool:
        return bool(self.rules)

    # --- the log path -----------------------------------------------------------------------

    def _scan_for(self, input_name: str) -> tuple[Selection, list[RuleState]]:
        found = self._scans.get(input_name)
        if found is None:
            rules = [
                r for r in self.rules if not r.settings.inputs or input_name in r.settings.inputs
            ]
            selection = Selection(
                [r.settings.when for r in rules],
                f"alerts {input_name}",
                keys=[r.group_by for r in rules],
            )
            found = self._scans[input_name] = (selection, rules)
        return found

    def selection(self, input_name: str) -> Selection | None:
        """The conditions whose records are all the engine reads of an input, for the fast
        path to select while it encodes (then `observe_selected`); None with `event_clock`,
        which reads every record (`advance`, the log's order)."""
        return None if self.event_clock else self._scan_for(input_name)[0]

    def observe(self, input_name: str, entries: list[LogEntry]) -> None:
        """Evaluates one chunk of one input's records (RecordObserver; on the tailer thread)."""
        selection, rules = self._scan_for(input_name)
        if not rules or not entries:
            return
        hits = selection.hits()
        selection.scan(entries, hits)
        if self.event_clock:
            if any(hits):
                out: list[Notification] = []
                with self._lock:
                    self._observe_in_order(entries, rules, hits, out)
                self._send(out)
            return
        self.observe_selected(input_name, hits)

    def observe_selected(self, input_name: str, hits: Hits) -> None:
        """Counts the records of one chunk that `selection(input_name)` selected, per rule
        (wall clock; on the tailer thread): its counts (the compiled selection's) first."""
        rules = self._scan_for(input_name)[1]
        count_sets = hits.count_sets
        if not count_sets and not any(hits):
            return
        out: list[Notification] = []
        with self._lock:
            chunk = ChunkPass(self.clock(), out, self._times.of, self._matched)
            if count_sets:
                tables = self._tables.get(input_name)
                if tables is None:
                    tables = self._tables[input_name] = rule_tables(rules)
                observe_count_sets(rules, tables, count_sets, chunk)
            for rule, records in zip(rules, hits, strict=True):
                if records:
                    observe_records(rule, records, chunk)
        self._send(out)

    def _observe_in_order(
        self,
        entries: list[LogEntry],
        rules: list[RuleState],
        hits: list[list[LogEntry]],
        out: list[Notification],
    ) -> None:
        """event_clock: record by record in the log's order, the clock following event time."""
        position = {id(entry): i for i, entry in enumerate(entries)}
        ordered = sorted(
            (position[id(record)], index, record)
            for index, records in enumerate(hits)
            for record in records
        )
        times = self._times.of
        for _, index, record in ordered:
            rule = rules[index]
            rule.matches += 1
            t = times(record.get("@timestamp"))
            if t is None:
                t = self.watermark
            self.watermark = max(self.watermark, t)
            key = rule.key(record) if rule.group_by else ()
            self._matched(rule, key, [record], 0, 1, t, self.watermark, out)

    def _matched(
        self,
        rule: RuleState,
        key: GroupKey,
        records: Sequence[LogEntry | bytes],
        start: int,
        stop: int,
        t: float,
        now: float,
        out: list[Notification],
    ) -> None:
        """Counts `records[start:stop]`, of one group and all at event time `t`."""
        if t <= now - rule.width - LATENESS:
            rule.late += stop - start
            return
        table = rule.table
        if stop - start < rule.need and table.seed(key, t, stop - start, now):
            return  # a new group below its threshold (per source IP, most of them)
        group = table.get(key)
        if group.firing and now >= group.resolve_check:
            self._check_resolved(rule, group, now, out)
        window = group.window
        if window.too_old(t):
            rule.late += stop - start
            return
        need = rule.need
        while start < stop:
            n = stop - start
            if now >= group.silenced_until:
                n = min(n, max(1, need - window.total))  # up to the record that fires
            window.add(t, n)
            start += n
            group.last_update = now
            # The last record shows only in a notification: the one that fires, and the last
            # one of a firing group (its resolve). A group that does not fire keeps none.
            if window.total >= need and now >= group.silenced_until:
                group.last_record = records[start - 1]
                self._fire(rule, group, t, now, out)
            elif group.firing:
                group.last_record = records[start - 1]

    def _fire(
        self, rule: RuleState, group: Group, t: float, now: float, out: list[Notification]
    ) -> None:
        if not group.firing:
            group.firing = True
            group.started = t
            rule.table.firing[group.key] = group
        group.silenced_until = now + rule.silence
        group.resolve_check = now + rule.quiet  # met now: cannot be quiet for `quiet` before
        out.append(self._notification(rule, group, "firing", t, None))

    def _check_resolved(
        self, rule: RuleState, group: Group, now: float, out: list[Notification]
    ) -> None:
        quiet_at = group.window.met_until() + rule.quiet
        if now < quiet_at:
            group.resolve_check = quiet_at
            return
        group.firing = False
        group.resolve_check = float("inf")
        rule.table.firing.pop(group.key, None)
        if rule.settings.send_resolved:
            out.append(self._notification(rule, group, "resolved", quiet_at, quiet_at))

    def _notification(
        self, rule: RuleState, group: Group, status: Status, at: float, ends: float | None
    ) -> Notification:
        rule.notifications[status] += 1
        s = rule.settings
        count = group.window.total
        variables = {
            "count": count,
            "rule": rule.name,
            "severity": s.severity,
            "threshold": rule.need,
            "window": window_text(rule.width) if s.threshold else "0s",
            "status": status,
        }
        template = rule.message if status == "firing" else rule.resolve_message
        return Notification(
            rule=rule.name,
            status=status,
            severity=s.severity,
            group=tuple(zip(rule.group_by, group.key, strict=True)),
            message=template.render(group.record(), variables),
            count=count,
            threshold=rule.need,
            window=rule.width if s.threshold else 0.0,
            at=at,
            starts_at=group.started,
            ends_at=ends,
            expires_at=group.silenced_until + rule.quiet + rule.width,
            host=self.host_name,
            description=s.description,
            labels=dict(s.labels),
            annotations=dict(s.annotations),
            record=group.record(),
            destinations=rule.destinations,
        )

    def _send(self, out: list[Notification]) -> None:
        for notification in out:
            try:
                self.notify(notification)
            except Exception:  # a delivery bug must not break the log path
                log.exception("Alert notification could not be queued.")

    # --- time passing -------------------------------------------------------------------------

    def advance(self, stamp: object) -> None:
        """event_clock: the clock moves to a record's `@timestamp` (any record, matching or not)."""
        t = self._times.of(stamp)
        if t is not None:
            with self._lock:
                self.watermark = max(self.watermark, t)

    def tick(self, now: float | None = None) -> None:
        """Resolves firing groups that have been quiet long enough; forgets idle groups."""
        out: list[Notification] = []
        with self._lock:
            if now is None:
                now = self.watermark if self.event_clock else self.clock()
            for rule in self.rules:
                for group in list(rule.table.firing.values()):
                    if now >= group.resolve_check:
                        self._check_resolved(rule, group, now, out)
            if now >= self._next_sweep:
                self._next_sweep = now + _IDLE_SWEEP_INTERVAL
                for rule in self.rules:
                    rule.table.forget_idle(now, 2 * rule.width + LATENESS + rule.quiet)
        self._send(out)

    # --- hand-over (config reload) -------------------------------------------------------------

    def export(self) -> dict[str, dict[str, Any]]:
        """The state of every rule, by name, as plain data."""
        with self._lock:
            return {
                r.name: {
                    "group_by": list(r.group_by),
                    "groups": r.table.export(),
                    "counters": {
                        "matches": r.matches,
                        "late": r.late,
                        "evicted": r.table.evicted,
                        **r.notifications,
                    },
                }
                for r in self.rules
            }

    def adopt(self, state: dict[str, dict[str, Any]]) -> list[str]:
        """Takes over the state of an old engine for the rules that kept their name and
        `group_by` (windows, silences, firing groups, counters). Returns the names of rules
        whose state was dropped (gone, or grouped differently now)."""
        dropped = []
        with self._lock:
            for name, data in state.items():
                rule = self.by_name.get(name)
                if rule is None or data["group_by"] != rule.group_by:
                    dropped.append(name)
                    continue
                rule.table.restore(data["groups"])
                counters = data["counters"]
                rule.matches += int(counters["matches"])
                rule.late += int(counters["late"])
                rule.table.evicted += int(counters["evicted"])
                for status in ("firing", "resolved"):
                    rule.notifications[status] += int(counters[status])
        return dropped

    # --- metrics ------------------------------------------------------------------------------

    def counters(self) -> list[dict[str, Any]]:
        """Per rule: matches, late, notifications, groups, firing groups, evicted groups."""
        with self._lock:
            return [
                {
                    "rule": r.name,
                    "matches": r.matches,
                    "late": r.late,
                    "firing": r.notifications["firing"],
                    "resolved": r.notifications["resolved"],
                    "groups": len(r.table),
                    "groups_firing": len(r.table.firing),
                    "evicted": r.table.evicted,
                }
                for r in self.rules
            ]
