"""RuleState: one alert rule at run time (its groups, templates and counters)."""

from __future__ import annotations

from logship.core.record import LogEntry, get_field, label_text
from logship.observe.alerts.group import GroupKey, GroupTable
from logship.observe.alerts.notification import Status
from logship.observe.alerts.settings import AlertRuleSettings
from logship.observe.alerts.template import MessageTemplate

LATENESS = 60.0
"""Seconds a record may be read after its window ended and still count (reading delays)."""


class RuleState:
    """One rule at run time: its groups, templates and counters."""

    def __init__(self, settings: AlertRuleSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.need = settings.need
        self.width = settings.window
        self.silence = settings.silence
        self.quiet = settings.quiet
        self.group_by = list(settings.group_by)
        self.table = GroupTable(settings.max_groups, self.width, self.need)
        self.message = MessageTemplate(settings.message)
        self.resolve_message = MessageTemplate(settings.resolve_message)
        self.destinations = tuple(settings.destinations)
        self.matches = 0
        self.late = 0
        self.notifications: dict[Status, int] = {"firing": 0, "resolved": 0}

    def key(self, record: LogEntry) -> GroupKey:
        """The group of a record: its `group_by` values as text ('' when missing)."""
        if len(self.group_by) == 1:
            return (label_text(get_field(record, self.group_by[0])),)
        return tuple(label_text(get_field(record, f)) for f in self.group_by)
