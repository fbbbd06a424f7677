"""ParserChain: an input's ordered rules (first match wins) turning framed lines into LogEntry records.

This is the one place where LogEntry documents are assembled (see `logship.record`). A line that
no rule matches is never dropped: it ships with the raw text as `message` and
`tags: [parse_failure]`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from logship.framing import Lines
from logship.record import LogEntry
from parsers.regex_rule import RegexRule

PARSE_FAILURE = "parse_failure"


@dataclass(slots=True)
class ChainStats:
    """Counts from one `parse` call, for metrics: records per rule, unmatched, tagged field errors."""

    matched: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    field_errors: dict[tuple[str, str], int] = field(default_factory=dict)


class ParserChain:
    """Parses lines of one file into records with the input's rules, in order."""

    def __init__(self, rules: Sequence[RegexRule], host_name: str) -> None:
        self.rules = list(rules)
        self.host_name = host_name

    def parse(
        self,
        lines: Lines,
        file_info: dict[str, str],
        read_time: str,
        file_fields: dict[str, Any] | None = None,
    ) -> tuple[list[LogEntry], ChainStats]:
        """Records for `lines` of one file; `read_time` is `@timestamp` when a line has none.

        `file_info` becomes each record's `log.file` (path, device_id, inode); it is copied per
        record, so records never share mutable objects. `file_fields` (Kubernetes metadata of a
        container log) are added to every record, as are what earlier stages know per line:
        the runtime's time (`@timestamp` unless the line has its own), `log.stream`, and
        `log.flags: ["multiline"]` for joined events.
        """
        rules = self.rules
        host = self.host_name
        stats = ChainStats()
        matched = [0] * len(rules)
        entries: list[LogEntry] = []
        append = entries.append
        for text, start in zip(lines.texts, lines.starts, strict=True):
            for index, rule in enumerate(rules):
                m = rule.match(text)
                if m is None:
                    continue
                matched[index] += 1
                try:
                    append(rule.build(m, text, start, read_time, file_info, host))
                except ValueError:
                    entry, tags = rule.build_tagged(m, text, start, read_time, file_info, host)
                    append(entry)
                    for tag in tags:
                        key = (rule.name, tag)
                        stats.field_errors[key] = stats.field_errors.get(key, 0) + 1
                break
            else:
                stats.unmatched += 1
                append(
                    {
                        "@timestamp": read_time,
                        "message": text,
                        "log": {"file": file_info.copy(), "offset": start},
                        "host": {"name": host},
                        "tags": [PARSE_FAILURE],
                    }
                )
        for i in lines.truncated:
            entries[i]["log"]["flags"] = ["truncated"]
        if lines.multiline or lines.times is not None or lines.streams is not None or file_fields:
            _decorate(entries, lines, read_time, file_fields)
        stats.matched = {rule.name: n for rule, n in zip(rules, matched, strict=True) if n}
        return entries, stats


def _decorate(
    entries: list[LogEntry], lines: Lines, read_time: str, file_fields: dict[str, Any] | None
) -> None:
    """Adds what earlier stages know about each line (container and multiline records only)."""
    for i in lines.multiline:
        entries[i]["log"].setdefault("flags", []).append("multiline")
    times, streams = lines.times, lines.streams
    for i, entry in enumerate(entries):
        if times is not None and times[i] and entry["@timestamp"] is read_time:
            entry["@timestamp"] = times[i]
        if streams is not None and streams[i]:
            entry["log"]["stream"] = streams[i]
        if file_fields:
            for key, value in file_fields.items():
                entry[key] = copy.deepcopy(value)
