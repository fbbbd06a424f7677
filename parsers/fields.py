"""Fields of a record in progress: type converters, nesting of dotted names, and the generic
post-processing of a rule (types, map_values, copy, timestamp, level, message, rename, remove,
add, tags), in that order.

`FieldProcessor` is the reference implementation of what a rule does after extracting fields.
JSON and logfmt rules use it on every line; regex and grok rules use a generated builder
(`parsers.builder`) that does the same work in straight-line code, and fall back to this one for
a line where something fails (a conversion, a timestamp), so failures are handled in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from logship.core.record import LogEntry
from parsers.level import SYSLOG_SEVERITY_NAMES, LevelNormalizer
from parsers.timestamp import TimestampParser

MISSING: Any = object()

TYPE_CONVERSION_FAILURE = "type_conversion_failure"
TIMESTAMP_PARSE_FAILURE = "timestamp_parse_failure"
FAILURE_TAGS = (TYPE_CONVERSION_FAILURE, TIMESTAMP_PARSE_FAILURE)

RAW_TIMESTAMP_FIELD = "timestamp_raw"
"""Where an unparseable value of a field named `@timestamp` (JSON) is kept."""

SYSLOG_LEVELS = ("fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug")
"""log.level by syslog severity code."""


# --- converters ----------------------------------------------------------------------------


def to_int(value: Any) -> int:
    """Text or number -> int; ValueError for text that is not an integer, a fraction, a bool."""
    if isinstance(value, str):
        return int(value)
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(value)


def to_float(value: Any) -> float:
    """Text or number -> float."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, str | int | float):
        return float(value)
    raise ValueError(value)


def to_bool(value: Any) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case) -> bool."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "on", "1", "t", "y"):
        return True
    if lowered in ("false", "no", "off", "0", "f", "n"):
        return False
    raise ValueError(value)


def to_text(value: Any) -> str:
    """A value as text: strings unchanged, objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": to_int,
    "float": to_float,
    "bool": to_bool,
    "string": to_text,
}


# --- dotted paths --------------------------------------------------------------------------


def split_path(dotted: str) -> tuple[str, ...]:
    """`http.request.method` -> ("http", "request", "method"); a name with empty parts stays whole."""
    parts = tuple(dotted.split("."))
    return (dotted,) if "" in parts else parts


def nest(flat: dict[str, Any]) -> LogEntry:
    """Dotted names -> nested objects. A value where an object is needed moves to `<path>.value`."""
    out: LogEntry = {}
    for key, value in flat.items():
        set_path(out, split_path(key), value)
    return out


def child_object(node: dict[str, Any], key: str) -> dict[str, Any]:
    """The object at `node[key]`, created when absent; a value there moves into it as `value`."""
    child = node.get(key, MISSING)
    if isinstance(child, dict):
        return child
    new: dict[str, Any] = {}
    if child is not MISSING:
        new["value"] = child
    node[key] = new
    return new


def set_path(node: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Sets a value at a path, creating objects on the way; objects merge with objects."""
    for part in parts[:-1]:
        node = child_object(node, part)
    last = parts[-1]
    current = node.get(last, MISSING)
    if isinstance(current, dict):
        if isinstance(value, dict):
            for k, v in value.items():
                set_path(current, (k,), v)
        else:
            current["value"] = value
        return
    node[last] = value


def get_path(node: dict[str, Any], parts: Sequence[str]) -> Any:
    """The value at a path, or MISSING."""
    current: Any = node
    for part in parts:
        if not isinstance(current, dict):
            return MISSING
        current = current.get(part, MISSING)
        if current is MISSING:
            return MISSING
    return current


def pop_path(node: dict[str, Any], parts: Sequence[str]) -> Any:
    """Removes and returns the value at a path (or MISSING); objects left empty are removed too."""
    if len(parts) == 1:
        return node.pop(parts[0], MISSING)
    child = node.get(parts[0])
    if not isinstance(child, dict):
        return MISSING
    value = pop_path(child, parts[1:])
    if value is not MISSING and not child:
        del node[parts[0]]
    return value


def expand_dotted_keys(obj: dict[str, Any]) -> LogEntry:
    """A JSON object with top-level dotted keys (`{"log.level": "info"}`) nested like the rest."""
    if not any("." in key for key in obj):
        return obj
    out: LogEntry = {}
    for key, value in obj.items():
        set_path(out, split_path(key), value)
    return out


# --- the generic post-processing ------------------------------------------------------------


class FieldProcessor:
    """A rule's work after extraction, on a nested record in progress (see the module docstring).

    Field names given here are already resolved (for regex rules: the captured names); failures
    keep the raw value, tag the record and are counted in `field_errors` (reason -> count).
    """

    def __init__(
        self,
        *,
        types: dict[str, str],
        map_values: dict[str, dict[str, Any]],
        copy: dict[str, str],
        timestamp_fields: Sequence[str],
        timestamp_parser: TimestampParser | None,
        level_fields: Sequence[str],
        level_normalizer: LevelNormalizer,
        syslog_priority: bool,
        message_fields: Sequence[str],
        rename: dict[str, str],
        remove: Sequence[str],
        add: dict[str, Any],
        tags: Sequence[str],
        field_errors: dict[str, int],
        fallback_timestamp: TimestampParser | None = None,
        derive: Sequence[tuple[str, Callable[[LogEntry, tuple[str, ...], Any], None]]] = (),
    ) -> None:
        self.types = [(split_path(n), CONVERTERS[t]) for n, t in types.items()]
        self.map_values = [(split_path(n), dict(table)) for n, table in map_values.items()]
        self.copy = [(split_path(a), split_path(b)) for a, b in copy.items()]
        self.timestamp_fields = [split_path(f) for f in timestamp_fields]
        self.timestamp_parser = timestamp_parser
        self.level_fields = [split_path(f) for f in level_fields]
        self.level = level_normalizer
        self.syslog_priority = syslog_priority
        self.message_fields = [split_path(f) for f in message_fields]
        self.rename = [(split_path(a), split_path(b)) for a, b in rename.items()]
        self.remove = [split_path(f) for f in remove]
        self.add = [(split_path(k), v) for k, v in add.items()]
        self.tags = list(tags)
        self.field_errors = field_errors
        self.fallback_timestamp = fallback_timestamp
        self.derive = [(split_path(n), fn) for n, fn in derive]

    def _fail(self, tags: list[str] | None, reason: str) -> list[str]:
        self.field_errors[reason] = self.field_errors.get(reason, 0) + 1
        if tags is None:
            return [reason]
        if reason not in tags:
            tags.append(reason)
        return tags

    def process(self, rec: LogEntry) -> LogEntry:
        """Applies the rule's settings to `rec` (in place) and returns it."""
        failed: list[str] | None = None
        for path, convert in self.types:
            value = get_path(rec, path)
            if value is MISSING or value is None:
                continue
            try:
                set_path(rec, path, convert(value))
            except (ValueError, TypeError, OverflowError):
                failed = self._fail(failed, TYPE_CONVERSION_FAILURE)
        for path, table in self.map_values:
            value = get_path(rec, path)
            if value is MISSING or value is None:
                continue
            mapped = table.get(value if isinstance(value, str) else to_text(value), MISSING)
            if mapped is not MISSING:
                set_path(rec, path, mapped)
        for source, target in self.copy:
            value = get_path(rec, source)
            if value is not MISSING and value is not None and get_path(rec, target) is MISSING:
                set_path(rec, target, list(value) if isinstance(value, list) else value)
        if self.timestamp_parser is not None:
            failed = self._timestamp(rec, failed)
        if self.fallback_timestamp is not None and "@timestamp" in rec:
            failed = self._own_timestamp(rec, failed)
        for path in self.level_fields:
            value = get_path(rec, path)
            if value is MISSING or value is None:
                continue
            if self.syslog_priority:
                failed = self._priority(rec, value, failed)
            else:
                pop_path(rec, path)
                key = value if isinstance(value, str) else to_text(value)
                child_object(rec, "log")["level"] = self.level[key]
            break
        for path in self.message_fields:
            value = get_path(rec, path)
            if value is MISSING or value is None:
                continue
            pop_path(rec, path)
            rec["message"] = value if isinstance(value, str) else to_text(value)
            break
        message = rec.get("message", "")
        if not isinstance(message, str):
            rec["message"] = to_text(message)
        for source, target in self.rename:
            value = pop_path(rec, source)
            if value is not MISSING:
                set_path(rec, target, value)
        for path in self.remove:
            pop_path(rec, path)
        for path, value in self.add:
            set_path(rec, path, list(value) if isinstance(value, list) else value)
        for path, derivation in self.derive:
            value = get_path(rec, path)
            if value is not MISSING and value is not None:
                derivation(rec, path, value)
        if self.tags or failed:
            tags = [*self.tags, *(failed or ())]
            existing = rec.get("tags")
            if existing is not None:
                tags = [*existing, *(t for t in tags if t not in existing)]
            rec["tags"] = tags
        return rec

    def _timestamp(self, rec: LogEntry, failed: list[str] | None) -> list[str] | None:
        assert self.timestamp_parser is not None
        for path in self.timestamp_fields:
            value = pop_path(rec, path)
            if value is MISSING:
                continue
            parsed = self.timestamp_parser(value) if value is not None else None
            if parsed is not None:
                rec["@timestamp"] = parsed
                return failed
            if path == ("@timestamp",):
                rec[RAW_TIMESTAMP_FIELD] = value
            else:
                set_path(rec, path, value)
            return self._fail(failed, TIMESTAMP_PARSE_FAILURE)
        return failed

    def _own_timestamp(self, rec: LogEntry, failed: list[str] | None) -> list[str] | None:
        """A JSON line's own `@timestamp` that no setting handled: parsed, or moved aside."""
        assert self.fallback_timestamp is not None
        value = rec["@timestamp"]
        parsed = self.fallback_timestamp(value)
        if parsed is not None:
            rec["@timestamp"] = parsed
            return failed
        rec[RAW_TIMESTAMP_FIELD] = rec.pop("@timestamp")
        return self._fail(failed, TIMESTAMP_PARSE_FAILURE)

    def _priority(self, rec: LogEntry, value: Any, failed: list[str] | None) -> list[str] | None:
        try:
            pri = to_int(value)
        except (ValueError, TypeError):
            return self._fail(failed, TYPE_CONVERSION_FAILURE)
        log = child_object(rec, "log")
        log["level"] = SYSLOG_LEVELS[pri & 7]
        syslog = child_object(log, "syslog")
        child_object(syslog, "facility")["code"] = pri >> 3
        severity = child_object(syslog, "severity")
        severity["code"] = pri & 7
        severity["name"] = SYSLOG_SEVERITY_NAMES[pri & 7]
        return failed
