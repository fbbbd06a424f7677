"""What every enrichment step shares: the Step protocol, its counts, the per-input chain, and
finding the object that holds a dotted field."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from logship.core.record import LogEntry, get_field

OUTCOMES = ("enriched", "missed", "failed")
"""Per record a step looks at: fields added; nothing to add (no value, a private address, not
in the database); or the value could not be read (not an address, not a URL)."""


@dataclass(slots=True)
class StepCounts:
    """Records a step enriched, missed and failed on, in one batch."""

    enriched: int = 0
    missed: int = 0
    failed: int = 0


class Step(Protocol):
    """One enrichment step: adds the fields it owns to the records of a batch, in place."""

    name: str

    def apply(self, entries: list[LogEntry], counts: StepCounts) -> None:
        """Enriches `entries`; counts each record it looked at in `counts`. Never raises for a
        record's content: a value it cannot read is counted as failed and left as it is."""
        ...


Report = Callable[[str, StepCounts], None]
"""Receives each step's counts per batch (the agent's metrics)."""


class EnrichChain:
    """An input's steps, in the configured order."""

    def __init__(self, steps: Sequence[Step], report: Report | None = None) -> None:
        self.steps = list(steps)
        self.report = report
        self.totals = {step.name: StepCounts() for step in self.steps}
        """Counts since the chain was built (`logship parse` prints them)."""

    def apply(self, entries: list[LogEntry]) -> None:
        """Runs every step over the batch."""
        if not entries:
            return
        for step in self.steps:
            counts = StepCounts()
            step.apply(entries, counts)
            total = self.totals[step.name]
            total.enriched += counts.enriched
            total.missed += counts.missed
            total.failed += counts.failed
            if self.report is not None:
                self.report(step.name, counts)


def holder(entry: LogEntry, parent: tuple[str, ...]) -> dict[str, Any] | None:
    """The object at the dotted path `parent` (the record itself for ()), or None."""
    node: Any = entry
    for part in parent:
        node = node.get(part)
        if not isinstance(node, dict):
            return None
    found: dict[str, Any] = node
    return found


def split_field(dotted: str) -> tuple[tuple[str, ...], str]:
    """`user_agent.original` -> (("user_agent",), "original")."""
    parts = tuple(dotted.split("."))
    return parts[:-1], parts[-1]


def string_at(
    entry: LogEntry, parent: tuple[str, ...], leaf: str, dotted: str
) -> tuple[dict[str, Any] | None, str | None]:
    """(the object holding the field, its value if a string). A record with the literal dotted
    key (`{"url.original": ...}`) is read too; then no holder object is returned."""
    node = holder(entry, parent)
    value = node.get(leaf) if node is not None else get_field(entry, dotted)
    return node, value if isinstance(value, str) else None


def reader(
    dotted: str,
) -> Callable[[LogEntry], tuple[dict[str, Any] | None, str | None]]:
    """`string_at` for one field, with the common one-level case (`url.original`) inlined:
    the steps call it once per record."""
    parent, leaf = split_field(dotted)
    if len(parent) != 1:
        return lambda entry: string_at(entry, parent, leaf, dotted)
    top = parent[0]

    def read(entry: LogEntry) -> tuple[dict[str, Any] | None, str | None]:
        node = entry.get(top)
        if type(node) is dict:
            value = node.get(leaf)
            return node, value if type(value) is str else None
        return string_at(entry, parent, leaf, dotted)

    return read


class FieldSource:
    """The dotted field a step reads its string from (`user_agent.original`, `source.ip`)."""

    def __init__(self, dotted: str) -> None:
        self.parent, self.leaf = split_field(dotted)
        self._read = reader(dotted)
        self._top = self.parent[0] if len(self.parent) == 1 else ""

    def texts(
        self, entries: list[LogEntry]
    ) -> list[tuple[LogEntry, dict[str, Any] | None, str | None]]:
        """(record, the object holding the field, its string value or None) for each record of
        a batch. One call per batch; the common one-level field is read inline."""
        top, leaf, read = self._top, self.leaf, self._read
        out: list[tuple[LogEntry, dict[str, Any] | None, str | None]] = []
        append = out.append
        for entry in entries:
            node = entry.get(top)
            if type(node) is dict:
                text = node.get(leaf)
                append((entry, node, text if type(text) is str else None))
            else:
                append((entry, *read(entry)))
        return out


def ensure(entry: LogEntry, parent: tuple[str, ...]) -> dict[str, Any] | None:
    """The object at `parent`, created where absent; None when a non-object is in the way (it
    is not the step's to replace)."""
    node: Any = entry
    for part in parent:
        nxt = node.get(part)
        if nxt is None:
            nxt = {}
            node[part] = nxt
        elif not isinstance(nxt, dict):
            return None
        node = nxt
    made: dict[str, Any] = node
    return made


def child(node: dict[str, Any], key: str) -> dict[str, Any]:
    """`node[key]` as an object: created when absent; a scalar there is replaced (the step owns
    the key)."""
    value = node.get(key)
    if not isinstance(value, dict):
        value = {}
        node[key] = value
    return value
