"""Compiled parser rules: the common interface, load-time errors, and the helpers the kinds share.

`parsers.compiler.compile_rule` builds a rule of the right kind from its settings.

A compiled rule turns one line into a record in progress (`parse(line) -> dict | None`, None when
the rule does not apply): the parsed fields nested by their dotted names, plus `@timestamp`,
`message`, `log.level` and `tags` when the rule sets them. `ParserChain` completes the record
(file, offset, host, read time, the raw line as message) and applies `drop_if` and redaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from logship.core.errors import LogshipError
from logship.core.record import LogEntry
from parsers.builder import BuilderPlan
from parsers.condition import Predicate, compile_condition
from parsers.config import RuleSettings
from parsers.level import LevelNormalizer
from parsers.timestamp import TimestampParser, load_zone

RESERVED_PATHS = {
    ("@timestamp",): "the event time: use `timestamp:`",
    ("tags",): "the record's tags: use `tags:`",
    ("log", "file"): "set by the agent",
    ("log", "offset"): "set by the agent",
    ("log", "flags"): "set by the agent",
    ("host", "name"): "set by the agent (capture the line's host as host.hostname)",
}


class RuleError(LogshipError, ValueError):
    """A rule that cannot be compiled; `key` is the setting at fault (`grok`, `types`, ...)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class Rule(Protocol):
    """What a chain needs from a compiled rule."""

    name: str
    drop_if: Predicate | None
    field_errors: dict[str, int]
    """Failures by reason since the chain last drained them (the chain turns them into stats)."""
    substring_fields: bool
    """Every string field is a piece of the line (redaction can pre-check the raw line)."""

    @property
    def plan(self) -> BuilderPlan | None:
        """The generated builder's plan (regex and grok rules), which the fast path fuses
        into its chunk loop (`parsers.fast_chunk`); None for rules it cannot fuse."""

    def parse(self, line: str) -> LogEntry | None:
        """The record in progress for `line`, or None when the rule does not apply."""

    def parse_event(self, text: str) -> LogEntry | None:
        """`parse` for an event that may contain `\\n` (multiline): the text the rule does not
        consume is appended to the message, never lost (`parsers.conserve`)."""

    def refresh(self, now: float) -> None:
        """Called once per batch (expires caches that depend on the date)."""


def reserved_reason(path: tuple[str, ...]) -> str | None:
    """Why a field path cannot be set by a rule, or None when it can."""
    for length in range(len(path), 0, -1):
        reason = RESERVED_PATHS.get(path[:length])
        if reason is not None:
            return reason
    if len(path) > 2 and path[:2] in (("log", "file"), ("host", "name")):
        return "set by the agent"
    return None


def timestamp_parser(
    settings: RuleSettings, default_zone: str, clock: Callable[[], float]
) -> TimestampParser | None:
    """The rule's timestamp parser (zone: the rule's, else the `parsers.timezone` default)."""
    ts = settings.timestamp
    if ts is None:
        return None
    zone: dt.tzinfo = load_zone(ts.timezone or default_zone)
    return TimestampParser(list(ts.format), zone, clock)


def level_normalizer(settings: RuleSettings) -> LevelNormalizer:
    """The rule's level normaliser (its own `level.mapping` first)."""
    return LevelNormalizer(settings.level.mapping if settings.level else None)


def drop_predicate(settings: RuleSettings) -> Predicate | None:
    """`drop_if` compiled, or None."""
    return compile_condition(settings.drop_if) if settings.drop_if is not None else None


def check_add_values(add: dict[str, Any]) -> None:
    """`add` values are scalars or lists of scalars (validated by the settings model already)."""
    for key in add:
        if not key or key.startswith(".") or key.endswith("."):
            raise RuleError("add", f"{key!r} is not a field name")
