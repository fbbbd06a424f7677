"""The per-chunk loop on the tailer thread: every rule's condition of one input, inlined.

Generated once per input from the rules that apply to it (like the derived metrics' loops), by
`parsers.selection.Selection`: the fields the conditions read are looked up once per record into
locals, each condition is one inline expression over them (`parsers.condition.ConditionCode`,
the same code `drop_if` runs), values shared by several rules are answered from a memo, and a
record that matches is appended to its rule's list. The fast path runs the same code inside its
generated parse-and-encode loop (`ParserChain.encode(select=...)`), so records no rule matches
are never built as dicts for the alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from logship.core.record import LogEntry
from parsers.condition import ConditionSettings
from parsers.selection import Hits, Selection, condition_fields

__all__ = ["Hits", "Scan", "condition_fields", "generate_scan", "scan_of"]

Scan = Callable[[list[LogEntry]], Hits | None]


def scan_of(selection: Selection) -> Scan:
    """A function returning, per condition of `selection`, the records it holds for; None if
    it holds for none."""
    run = selection.scan

    def scan(entries: list[LogEntry]) -> Hits | None:
        hits = selection.hits()
        run(entries, hits)
        return hits if any(hits) else None

    return scan


def generate_scan(conditions: Sequence[ConditionSettings], label: str = "alerts") -> Scan:
    """A function returning, per condition, the records it holds for; None if it holds for none."""
    return scan_of(Selection(conditions, label))
