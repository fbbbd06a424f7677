"""JsonRule: a line that is a JSON object becomes the record's fields (`type: json`).

Top-level dotted keys are nested like everywhere else (`{"log.level": "info"}` -> log.level).
Keys that would collide with what the agent sets are moved aside: a non-object `log` becomes
`log.original`, a non-object `host` becomes `host.hostname`, non-list `tags` become a list.
An object nested more than 128 levels deep does not match (it ships raw, tagged).
Without settings, a field named `level` / `log.level` is the level and a field `message` the
message; a line's own `@timestamp` is read as ISO 8601 or epoch (else moved to `timestamp_raw`
and tagged), so Elasticsearch never receives a date it cannot read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from logship.core.record import LogEntry
from parsers.builder import BuilderPlan
from parsers.config import RuleSettings
from parsers.conserve import parse_by_first_line
from parsers.derive import DERIVATIONS
from parsers.fields import FieldProcessor, expand_dotted_keys, to_text
from parsers.rule import check_add_values, drop_predicate, level_normalizer, timestamp_parser
from parsers.timestamp import TimestampParser, load_zone

IMPLICIT_LEVEL_FIELDS = ("log.level", "level")
MAX_DEPTH = 128
"""Deeper objects are not parsed (orjson, which the sinks encode with, stops at 255 levels)."""


def dynamic_processor(
    settings: RuleSettings,
    default_zone: str,
    clock: Callable[[], float],
    field_errors: dict[str, int],
    *,
    own_timestamp: bool,
) -> tuple[FieldProcessor, TimestampParser | None]:
    """The FieldProcessor of a rule whose fields are only known per line (json, logfmt)."""
    check_add_values(settings.add)
    parser = timestamp_parser(settings, default_zone, clock)
    fallback = (
        TimestampParser(["ISO8601", "EPOCH"], load_zone(default_zone), clock)
        if own_timestamp
        else None
    )
    processor = FieldProcessor(
        types=dict(settings.types),
        map_values=dict(settings.map_values),
        copy=dict(settings.copy_fields),
        timestamp_fields=settings.timestamp.field if settings.timestamp else [],
        timestamp_parser=parser,
        level_fields=settings.level.field if settings.level else IMPLICIT_LEVEL_FIELDS,
        level_normalizer=level_normalizer(settings),
        syslog_priority=bool(settings.level and settings.level.syslog_priority),
        message_fields=settings.message or [],
        rename=dict(settings.rename),
        remove=list(settings.remove),
        add=dict(settings.add),
        tags=settings.tags,
        field_errors=field_errors,
        fallback_timestamp=fallback,
        derive=[(n, DERIVATIONS[d]) for n, d in settings.derive.items()],
    )
    return processor, parser


class JsonRule:
    """A compiled `type: json` rule."""

    substring_fields = False  # JSON escapes (\u0040) hide text from a raw-line check
    plan: BuilderPlan | None = None  # the fast path fuses only regex/grok rules

    def __init__(
        self, settings: RuleSettings, default_zone: str, clock: Callable[[], float]
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.field_errors: dict[str, int] = {}
        self.drop_if = drop_predicate(settings)
        self._processor, self._timestamp = dynamic_processor(
            settings, default_zone, clock, self.field_errors, own_timestamp=True
        )

    def parse(self, line: str) -> LogEntry | None:
        """The record in progress, or None when the line is not a JSON object."""
        if not line.startswith("{") and not line.lstrip().startswith("{"):
            return None
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        if line.count("{") + line.count("[") > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
            return None  # shipped raw: sinks' JSON encoder refuses records nested this deep
        rec = expand_dotted_keys(obj)
        move_reserved(rec)
        return self._processor.process(rec)

    def parse_event(self, text: str) -> LogEntry | None:
        """`parse` for an event that may span lines (`parsers.conserve.parse_by_first_line`)."""
        return parse_by_first_line(self.parse, text)

    def refresh(self, now: float) -> None:
        """Expires date-dependent timestamp caches (once per batch)."""
        if self._timestamp is not None:
            self._timestamp.refresh(now)


def move_reserved(rec: dict[str, Any]) -> None:
    """Moves values that would collide with what the agent sets (see the module docstring)."""
    log = rec.get("log")
    if log is not None and not isinstance(log, dict):
        rec["log"] = {"original": to_text(log)}
    host = rec.get("host")
    if host is not None and not isinstance(host, dict):
        rec["host"] = {"hostname": to_text(host)}
    tags = rec.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        items = tags if isinstance(tags, list) else [tags]
        rec["tags"] = [to_text(t) for t in items]


def _depth(node: object) -> int:
    """Nesting depth of a JSON value (iterative: no recursion limit to hit)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(node, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in value)
    return deepest
