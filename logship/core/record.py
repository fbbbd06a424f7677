"""The record type: a LogEntry is the JSON document that sinks ship, shaped by the Elastic Common Schema.

A LogEntry is a plain ``dict`` rather than a class: every sink serialises it with orjson, and
building a second representation per line would cost more than the rest of the hot path. The
shape is fixed by convention and built in one place (`parsers.chain`):

    {
      "@timestamp": "2026-11-24T10:00:00.000Z",    # UTC, ISO 8601, milliseconds
      "message": "...",
      "log": {"level": "error",                    # level and flags only when known / set
              "file": {"path": "/var/log/app.log", "device_id": "2049", "inode": "1234567"},
              "offset": 1234,                      # byte offset where the line starts
              "flags": ["truncated"]},
      "host": {"name": "node-1"},
      "tags": ["parse_failure"],                   # only when set
      "ecs": {"version": "8.11.0"},                # unless agent.metadata: false
      "agent": {"type": "logship", "version": "0.1.0", "name": "node-1"},
      ...the input's fields, service, event.dataset (parsers.stamp)
      ...parsed fields, dotted names nested ("http.request.method" -> {"http": {"request": ...}})
    }

Entries are shared between the queues of several sinks: sinks must treat them as read-only.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

LogEntry = dict[str, Any]
"""One record: the ECS-shaped JSON document (see the module docstring)."""

ECS_VERSION = "8.11.0"
"""The ECS version records follow (`ecs.version`): the one of Elasticsearch's `ecs@mappings`."""

_MISSING = object()


def get_field(entry: LogEntry, dotted: str, default: Any = None) -> Any:
    """The value at a dotted path (`http.response.status_code`), or `default` when absent.

    A literal key containing dots (`{"a.b": 1}`) is found too, so flat and nested records both work.
    """
    value = entry.get(dotted, _MISSING)
    if value is not _MISSING:
        return value
    node: Any = entry
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return default
    return node


def set_field(entry: LogEntry, dotted: str, value: Any) -> None:
    """Sets a value at a dotted path, creating intermediate objects (a non-object is replaced)."""
    parts = dotted.split(".")
    node = entry
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def pop_field(entry: LogEntry, dotted: str, default: Any = None) -> Any:
    """Removes and returns the value at a dotted path; empty parent objects are left in place."""
    if dotted in entry:
        return entry.pop(dotted)
    parts = dotted.split(".")
    node: Any = entry
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return default
    if isinstance(node, dict):
        return node.pop(parts[-1], default)
    return default


def add_tags(entry: LogEntry, *tags: str) -> None:
    """Appends tags to `entry["tags"]`, once each."""
    current = entry.get("tags")
    if current is None:
        entry["tags"] = list(tags)
        return
    for tag in tags:
        if tag not in current:
            current.append(tag)


def format_iso(moment: dt.datetime) -> str:
    """`@timestamp` text for an aware datetime: `2026-11-24T10:00:00.123Z` (converted to UTC)."""
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def format_epoch(seconds: float) -> str:
    """`@timestamp` text for a Unix time in seconds: `2026-11-24T10:00:00.123Z`."""
    whole = int(seconds // 1)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def label_text(value: Any) -> str:
    """A field value as a label value (and for `match:` comparisons): `true`, `200`, `GET`."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)
