"""MessageTemplate: alert texts like `"{service.name}: {count} errors in {window}, last: {message}"`.

The syntax of `sinks.template.FieldTemplate` (`{field}`, `{field:-fallback}`, `%Y %m %d %H` of
the record's date, `{{`/`}}`/`%%` for literals), rendered over the group's last matching record
plus the alert's own variables (`count`, `rule`, `severity`, `threshold`, `window`, `status`),
which take precedence over record fields of the same name. A field the record does not have
renders as `-` (an alert must still go out when a field is missing).
"""

from __future__ import annotations

from typing import Any

from logship.core.record import LogEntry, get_field
from sinks.template import FieldTemplate

MISSING_TEXT = "-"


class MessageTemplate:
    """A compiled alert text template."""

    def __init__(self, text: str) -> None:
        self.template = FieldTemplate(text)
        self.fields = list(dict.fromkeys(self.template.fields))

    def render(self, record: LogEntry | None, variables: dict[str, Any]) -> str:
        """The text for a record (None: no record) and the alert's variables."""
        context: dict[str, Any] = dict(record or {})
        context.update(variables)
        text = self.template.render(context)
        if text is not None:
            return text
        for name in self.fields:
            value = get_field(context, name)
            if value is None or isinstance(value, dict | list):
                context[name] = MISSING_TEXT  # a literal dotted key: get_field finds it first
        text = self.template.render(context)
        return text if text is not None else MISSING_TEXT


def window_text(seconds: float) -> str:
    """`60s`, `5m`, `1h30m`, `250ms`: a window as people write it."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"
