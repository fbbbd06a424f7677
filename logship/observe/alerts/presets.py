"""Presets: the JSON document a destination receives for one notification.

- `webhook`: every fact of the notification as one object (one request per notification);
- `slack`: `{"text": ...}` for Slack-compatible incoming webhooks (Mattermost, Rocket.Chat,
  Teams' Slack-compatible connectors too), one request per notification;
- `alertmanager`: a postable alert for Alertmanager's `POST /api/v2/alerts` (requests carry a
  list of them): `labels` identify the alert (alertname, severity, instance, the group's
  fields, the rule's labels), `annotations` carry the texts, `startsAt` / `endsAt` the times.
  A firing alert's `endsAt` lies after the silence plus the resolve window, so Alertmanager
  keeps it active until logship repeats it or resolves it, and times it out by itself if the
  agent goes away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from logship.core.record import format_epoch
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.settings import Preset

_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")


def label_name(field: str) -> str:
    """A Prometheus label name for a record field: `service.name` -> `service_name`."""
    name = _LABEL_CHARS.sub("_", field)
    return f"_{name}" if name[:1].isdigit() else name


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else format_epoch(seconds)


def webhook(n: Notification) -> dict[str, Any]:
    """Everything, flat and documented in docs/alerts.md."""
    return {
        "status": n.status,
        "rule": n.rule,
        "severity": n.severity,
        "message": n.message,
        "group": dict(n.group),
        "count": n.count,
        "threshold": n.threshold,
        "window_s": n.window,
        "at": _iso(n.at),
        "starts_at": _iso(n.starts_at),
        "ends_at": _iso(n.ends_at),
        "host": n.host,
        "description": n.description,
        "labels": n.labels,
        "annotations": n.annotations,
        "record": n.record,
    }


def slack(n: Notification) -> dict[str, Any]:
    """One line of heading, the message below it."""
    icon = ":rotating_light:" if n.status == "firing" else ":white_check_mark:"
    group = ", ".join(f"{k}={v}" for k, v in n.group)
    where = f" [{group}]" if group else ""
    heading = f"{icon} *{n.status.upper()}* `{n.rule}` ({n.severity}){where} on {n.host}"
    return {"text": f"{heading}\n{n.message}"}


def alertmanager(n: Notification) -> dict[str, Any]:
    """A postable alert (Alertmanager API v2)."""
    labels = {"alertname": n.rule, "severity": n.severity, "instance": n.host}
    for field, value in n.group:
        labels[label_name(field)] = value
    labels.update(n.labels)
    annotations = {"summary": n.message, **n.annotations}
    if n.description:
        annotations.setdefault("description", n.description)
    ends = n.ends_at if n.ends_at is not None else n.expires_at
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": format_epoch(n.starts_at),
        "endsAt": format_epoch(max(ends, n.starts_at)),
    }


PRESETS: dict[Preset, Callable[[Notification], dict[str, Any]]] = {
    "webhook": webhook,
    "slack": slack,
    "alertmanager": alertmanager,
}
