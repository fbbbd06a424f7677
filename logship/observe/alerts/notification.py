"""Notification: one firing or resolved alert of one group, as the engine emits it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from logship.core.record import LogEntry

Status = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class Notification:
    """What happened (status, rule, group), when (event times, Unix seconds) and the text.

    `at` is when it happened: the event time of the record that crossed the threshold, or the
    moment the group counted as quiet. `starts_at` is when the incident started firing;
    `ends_at` is set on resolved notifications; `expires_at` is when a receiver that needs an
    end (Alertmanager) may consider a firing alert over if it hears nothing more.
    """

    rule: str
    status: Status
    severity: str
    group: tuple[tuple[str, str], ...]
    """(field, value) per `group_by` field."""
    message: str
    count: int
    threshold: int
    window: float
    at: float
    starts_at: float
    ends_at: float | None
    expires_at: float
    host: str
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    record: LogEntry | None = None
    destinations: tuple[str, ...] = ()
    """Destination names; empty: every destination."""
