"""How the general path completes records beyond what a rule parsed: truncation flags, the
event's whole text, per-line facts of containers and multiline events (`ParserChain.parse`)."""

from __future__ import annotations

import bisect
import copy as copying
from typing import Any

from logship.core.lines import Lines
from logship.core.record import LogEntry


def flag_truncated(entries: list[LogEntry], lines: Lines, dropped_starts: list[int]) -> None:
    """Marks the records of truncated lines; dropped lines shift the record indexes."""
    for i in lines.truncated:
        start = lines.starts[i]
        before = bisect.bisect_left(dropped_starts, start)
        if before < len(dropped_starts) and dropped_starts[before] == start:
            continue  # that line was dropped
        entries[i - before]["log"].setdefault("flags", []).insert(0, "truncated")


def add_original(rec: LogEntry, text: str) -> None:
    """`event.original`: the event's whole text (before redaction, which then applies to it)."""
    event = rec.get("event")
    if isinstance(event, dict):
        event["original"] = text
    else:
        # A rule's scalar `event` is a piece of `text`, which the record now holds whole.
        rec["event"] = {"original": text}


def per_line_extras(lines: Lines) -> list[tuple[str, bool] | None]:
    """(stream, joined from several lines?) per line, for `_decorate`."""
    streams = lines.streams or [""] * len(lines.texts)
    joined = set(lines.multiline)
    return [(stream, i in joined) for i, stream in enumerate(streams)]


def decorate(rec: LogEntry, extra: tuple[str, bool], file_fields: dict[str, Any] | None) -> None:
    stream, joined = extra
    log = rec["log"]
    if stream:
        log["stream"] = stream
    if joined:
        log.setdefault("flags", []).append("multiline")
    if file_fields:
        for key, value in file_fields.items():
            current = rec.get(key)
            if isinstance(current, dict) and isinstance(value, dict):
                for k, v in value.items():
                    current.setdefault(k, _tree_copy(v))
            else:
                rec[key] = _tree_copy(value)


def _tree_copy(value: Any) -> Any:
    """A copy of a JSON-like tree (dicts, lists, scalars): `copy.deepcopy` without its memo and
    dispatch, several times faster on Kubernetes metadata merged into every record."""
    if isinstance(value, dict):
        return {k: _tree_copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_tree_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return copying.copy(value) if not isinstance(value, (str, int, float, bool)) else value
