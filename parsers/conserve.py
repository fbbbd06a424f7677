"""Conservation: every byte of a multiline event reaches its record.

Lines from framing never contain `\\n`; only events joined by the multiline stage do. A rule
written for one line (`(?P<message>.*)`, a `$` anchor) would match such an event's first line
and leave its continuation lines (the stack trace) out of the record. So a rule parses an event
that contains `\\n` like this (docs/parser-rules.md, "Multiline events"):

1. The rule is tried on the whole event. A match that consumes all of it wins as it is (a JSON
   object spread over lines, a regex written with `(?s)` or `[\\s\\S]`).
2. Otherwise the rule is tried on the first line (so `$`-anchored rules match too); if that
   fails, a match of the whole event that stopped short of its end is used.
3. The text the match did not consume -- from where it stopped, normally the first `\\n` --
   is appended to the record's message: `message` = the captured message, then every
   continuation line, in order, exactly as in the event.
4. A rule that sets no message leaves the message to the chain, which uses the whole event
   text, as it does for one line.

Single lines never come here: the chain calls `parse_event` only for chunks that hold an event
with a `\\n`, and `parse_event` hands a line without one to the rule's plain `parse`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logship.core.record import LogEntry


def match_event(match: Callable[[str], Any], text: str) -> tuple[Any, str] | None:
    """The match a regex rule uses for a multiline event, and the text it left unconsumed.

    `text` contains a `\\n` (steps 1 and 2 of the module docstring); `match` is a compiled
    pattern's `match` (`re` or `regex`).
    """
    whole = match(text)
    newline = text.find("\n")
    if whole is not None:
        end = whole.end()
        # All of the event, or a match inside its first line (as the first line alone would).
        if end == len(text) or end <= newline:
            return whole, text[end:]
    first = match(text[:newline])
    if first is not None:
        return first, text[first.end() :]
    if whole is not None:
        return whole, text[whole.end() :]
    return None


def append_rest(rec: LogEntry, rest: str) -> None:
    """Appends the text a rule left unconsumed to the record's message (step 3).

    A record without a message is left alone: the chain makes the whole event its message.
    """
    if not rest:
        return
    message = rec.get("message")
    if message is not None:
        rec["message"] = message + rest


def parse_by_first_line(parse: Callable[[str], LogEntry | None], text: str) -> LogEntry | None:
    """`parse_event` of a rule that sees a line as a whole (json, logfmt): the whole event,
    else its first line with the rest appended to the message."""
    rec = parse(text)
    if rec is not None:
        return rec
    newline = text.find("\n")
    if newline < 0:
        return None
    rec = parse(text[:newline])
    if rec is not None:
        append_rest(rec, text[newline:])
    return rec
