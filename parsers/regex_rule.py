"""RegexRule: one compiled parser rule; named groups become fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parsers.config import RegexRuleSettings, compile_pattern
from parsers.level import normalize_level
from parsers.timestamp import TimestampParser, load_zone


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError(text)


_CONVERTERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "bool": _to_bool}


class Parsed:
    """What a rule extracted from one line, before the chain wraps it into a LogEntry."""

    __slots__ = ("fields", "level", "message", "tags", "timestamp")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.timestamp: str | None = None
        self.level: str | None = None
        self.message: str | None = None
        self.tags: list[str] | None = None


class RegexRule:
    """A compiled rule. `parse` returns the extracted fields, or None when the line does not match.

    Special group names: `message` becomes the record's message (else the whole line is),
    `level` becomes `log.level` (normalised). The timestamp field is parsed into `@timestamp`
    and removed from the fields; when it cannot be parsed it stays, and the record is tagged.
    """

    def __init__(self, settings: RegexRuleSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self._match = compile_pattern(settings.regex).match
        self._types = [(f, _CONVERTERS[t]) for f, t in settings.types.items() if t in _CONVERTERS]
        ts = settings.timestamp
        self._ts_field = ts.field if ts else None
        self._ts_parse = TimestampParser(ts.format, load_zone(ts.timezone)) if ts else None

    def parse(self, line: str) -> Parsed | None:
        """The fields of `line`, or None if the rule does not match it."""
        m = self._match(line)
        if m is None:
            return None
        fields = m.groupdict()
        if None in fields.values():
            fields = {k: v for k, v in fields.items() if v is not None}
        out = Parsed()
        for name, convert in self._types:
            value = fields.get(name)
            if value is not None:
                try:
                    fields[name] = convert(value)
                except ValueError:
                    out.tags = ["type_conversion_failure"]
        if self._ts_field is not None:
            raw = fields.pop(self._ts_field, None)
            if raw is not None:
                assert self._ts_parse is not None
                out.timestamp = self._ts_parse(raw)
                if out.timestamp is None:
                    fields[self._ts_field] = raw
                    out.tags = [*(out.tags or ()), "timestamp_parse_failure"]
        if "message" in fields:
            out.message = fields.pop("message")
        if "level" in fields:
            out.level = normalize_level(fields.pop("level"))
        out.fields = fields
        return out
