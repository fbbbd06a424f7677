"""FieldTemplate: names built from record fields, like `logs-{service.name}` or `logs-%Y.%m.%d`.

Syntax:
- `{dotted.field}`: the field's value; a template with a missing field renders as None, so the
  caller can fall back to its default (a default topic, a default index);
- `{dotted.field:-fallback}`: the field's value, or `fallback` when the field is missing;
- `%Y`, `%m`, `%d`, `%H`: the record's `@timestamp` date parts (UTC), for daily/hourly indices;
- `%%` and `{{` / `}}`: literal `%`, `{`, `}`.

Rendering is per record but cheap: a template without fields or dates renders to a constant.
"""

from __future__ import annotations

import re
from typing import Any

from logship.core.errors import LogshipError
from logship.core.record import LogEntry, get_field

_TOKEN = re.compile(r"\{\{|\}\}|%%|%[YmdH]|\{([^{}:]+)(?::-([^{}]*))?\}|[{}%]")
_DATE_SLICES = {"%Y": (0, 4), "%m": (5, 7), "%d": (8, 10), "%H": (11, 13)}


class TemplateError(LogshipError, ValueError):
    """The template text cannot be parsed; the message says where."""


class FieldTemplate:
    """A compiled template; `render(entry)` returns the text or None when a required field is missing."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.fields: list[str] = []
        self._parts: list[tuple[str, Any, Any]] = []  # (kind, value, fallback)
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.start() > pos:
                self._parts.append(("lit", text[pos : m.start()], None))
            token = m.group(0)
            if token in ("{{", "}}", "%%"):
                self._parts.append(("lit", token[0], None))
            elif token in _DATE_SLICES:
                self._parts.append(("date", _DATE_SLICES[token], None))
            elif m.group(1) is not None:
                name = m.group(1).strip()
                if not name:
                    raise TemplateError(f"empty field name at position {m.start()} in {text!r}")
                self.fields.append(name)
                self._parts.append(("field", name, m.group(2)))
            else:
                raise TemplateError(
                    f"unexpected {token!r} at position {m.start()} in {text!r} "
                    f"(use {{field}}, {{field:-default}}, %Y %m %d %H, or double it for a literal)"
                )
            pos = m.end()
        if pos < len(text):
            self._parts.append(("lit", text[pos:], None))
        self.constant: str | None = (
            "".join(p[1] for p in self._parts) if all(p[0] == "lit" for p in self._parts) else None
        )

    def render(self, entry: LogEntry) -> str | None:
        """The rendered text for one record; None when a field without fallback is missing."""
        if self.constant is not None:
            return self.constant
        out: list[str] = []
        for kind, value, fallback in self._parts:
            if kind == "lit":
                out.append(value)
            elif kind == "date":
                stamp = entry.get("@timestamp")
                if not isinstance(stamp, str) or len(stamp) < 13:
                    return None
                out.append(stamp[value[0] : value[1]])
            else:
                found = get_field(entry, value)
                if found is None or isinstance(found, dict | list):
                    if fallback is None:
                        return None
                    out.append(fallback)
                else:
                    out.append(str(found))
        return "".join(out)

    def __repr__(self) -> str:
        return f"FieldTemplate({self.text!r})"
