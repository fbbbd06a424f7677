"""LogfmtRule: `key=value key2="quoted value" flag` lines (`type: logfmt`).

A line matches when it is made only of such tokens and has at least one `key=value`. Keys are
letters, digits and `_ . - @` (dots nest: `http.status=200`); a key without `=` is `true`.
Quoted values unescape `\\"`, `\\\\`, `\\n`, `\\t`, `\\r`. Values stay text unless `types` converts
them. Without settings, `level` / `log.level` is the level and `msg` or `message` the message;
keys the agent sets are moved aside as for JSON (`host=web-1` becomes host.hostname).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from logship.core.record import LogEntry
from parsers.builder import BuilderPlan
from parsers.config import RuleSettings
from parsers.conserve import parse_by_first_line
from parsers.fields import nest
from parsers.json_rule import dynamic_processor, move_reserved
from parsers.rule import drop_predicate

_KEY = r"[A-Za-z_@][\w.@-]*"
_VALUE = r'(?:"[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*)'
_LINE = re.compile(rf"[ \t]*{_KEY}(?:={_VALUE})?(?:[ \t]+{_KEY}(?:={_VALUE})?)*[ \t]*")
_PAIR = re.compile(rf"({_KEY})(?:(=)({_VALUE}))?")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unescape(m: re.Match[str]) -> str:
    ch = m.group(1)
    return _ESCAPES.get(ch, ch)


def parse_logfmt(line: str) -> dict[str, Any] | None:
    """The pairs of a logfmt line (flat, dotted keys), or None when the line is not logfmt."""
    if "=" not in line or _LINE.fullmatch(line) is None:
        return None
    pairs: dict[str, Any] = {}
    has_value = False
    for key, eq, raw in _PAIR.findall(line):
        if not eq:
            pairs.setdefault(key, True)
            continue
        has_value = True
        text: str = raw
        if text.startswith('"'):
            text = text[1:-1]
            if "\\" in text:
                text = _ESCAPE.sub(_unescape, text)
        pairs[key] = text
    return pairs if has_value else None


class LogfmtRule:
    """A compiled `type: logfmt` rule."""

    substring_fields = True
    plan: BuilderPlan | None = None  # the fast path fuses only regex/grok rules

    def __init__(
        self, settings: RuleSettings, default_zone: str, clock: Callable[[], float]
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.field_errors: dict[str, int] = {}
        self.drop_if = drop_predicate(settings)
        if settings.message is None:
            settings = settings.model_copy(update={"message": ["msg", "message"]})
        self._processor, self._timestamp = dynamic_processor(
            settings, default_zone, clock, self.field_errors, own_timestamp=True
        )

    def parse(self, line: str) -> LogEntry | None:
        """The record in progress, or None when the line is not logfmt."""
        pairs = parse_logfmt(line)
        if pairs is None:
            return None
        rec = nest(pairs)
        move_reserved(rec)
        return self._processor.process(rec)

    def parse_event(self, text: str) -> LogEntry | None:
        """`parse` for an event that may span lines (`parsers.conserve.parse_by_first_line`)."""
        return parse_by_first_line(self.parse, text)

    def refresh(self, now: float) -> None:
        """Expires date-dependent timestamp caches (once per batch)."""
        if self._timestamp is not None:
            self._timestamp.refresh(now)
