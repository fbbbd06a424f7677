"""Checks a contender's NDJSON output against its input, so that no one wins by dropping lines.

Every input line must come out exactly once (compared by the `message` field, which every
contender writes: as a multiset of hashes, so the order does not matter and a duplicate or a
loss is caught); every record must carry the parsed fields; on a sample of records the fields
must equal what `NGINX_RULE` captures from the message (status and bytes as JSON numbers, the
time either raw in `time` or converted to `@timestamp`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.nginx_log import NGINX_RULE

TEXT_FIELDS = ["source_ip", "user_name", "method", "url", "http_version", "referrer", "user_agent"]
NUMBER_FIELDS = ["status", "bytes"]
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


@dataclass
class Verification:
    """What the check found; `ok` when nothing is wrong."""

    name: str
    input_lines: int = 0
    output_records: int = 0
    missing: int = 0
    duplicated: int = 0
    unparsed: int = 0
    sampled: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every line came out once with its fields right."""
        return not self.problems

    def summary(self) -> str:
        """One line for the report."""
        if self.ok:
            return (
                f"{self.name}: verified {self.output_records:,} records: every input line once, "
                f"fields right on {self.sampled:,} sampled records"
            )
        return f"{self.name}: OUTPUT WRONG: " + "; ".join(self.problems[:5])


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        rest = b""
        while chunk := f.read(1 << 22):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            yield from data[:cut].splitlines()
        if rest:
            yield rest


def _time_problems(record: dict[str, Any], raw_time: str) -> list[str]:
    expected = dt.datetime.strptime(raw_time, TIME_FORMAT)
    problems = []
    if "time" in record and record["time"] != raw_time:
        problems.append(f"time {record['time']!r} != {raw_time!r}")
    if "@timestamp" in record:
        try:
            stamp = dt.datetime.fromisoformat(str(record["@timestamp"]))
        except ValueError:
            return [f"@timestamp {record['@timestamp']!r} is not ISO 8601"]
        if stamp != expected:
            problems.append(f"@timestamp {record['@timestamp']!r} != {raw_time!r}")
    if "time" not in record and "@timestamp" not in record:
        problems.append("neither time nor @timestamp")
    return problems


def field_problems(record: dict[str, Any], rx: re.Pattern[str]) -> list[str]:
    """How a record's fields differ from what the rule captures from its message."""
    message = record.get("message")
    if not isinstance(message, str):
        return ["no message"]
    m = rx.match(message)
    if m is None:
        return [f"the rule does not match the message {message[:80]!r}"]
    want = m.groupdict()
    problems = [
        f"{name} {record.get(name)!r} != {want[name]!r}"
        for name in TEXT_FIELDS
        if record.get(name) != want[name]
    ]
    for name in NUMBER_FIELDS:
        value = record.get(name)
        if type(value) is not int or value != int(want[name]):
            problems.append(f"{name} {value!r} is not the number {want[name]}")
    return problems + _time_problems(record, want["time"])


def verify(name: str, log: Path, output: Path, sample_every: int = 997) -> Verification:
    """Checks `output` (NDJSON) against the input `log`; see the module docstring."""
    result = Verification(name)
    rx = re.compile(str(NGINX_RULE["regex"]))
    wanted = sorted(hash(line.decode("utf-8", "replace")) for line in _lines(log))
    result.input_lines = len(wanted)
    got: list[int] = []
    if not output.exists():
        result.problems.append(f"no output file {output}")
        return result
    required = [*TEXT_FIELDS, *NUMBER_FIELDS]
    for index, raw in enumerate(_lines(output)):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            result.problems.append(f"record {index + 1} is not JSON: {raw[:80]!r}")
            continue
        got.append(hash(record.get("message")))
        if any(key not in record for key in required):
            result.unparsed += 1
        if index % sample_every == 0:
            result.sampled += 1
            problems = field_problems(record, rx)
            if problems:
                result.problems.append(f"record {index + 1}: " + ", ".join(problems))
    result.output_records = len(got)
    got.sort()
    if got != wanted:
        result.missing, result.duplicated = _difference(wanted, got)
        result.problems.append(
            f"{result.missing:,} input lines missing, {result.duplicated:,} extra or duplicated records"
        )
    if result.unparsed:
        result.problems.append(f"{result.unparsed:,} records lack parsed fields")
    return result


def _difference(wanted: list[int], got: list[int]) -> tuple[int, int]:
    """(missing, extra) between two sorted lists, counting repeats."""
    i = j = missing = extra = 0
    while i < len(wanted) and j < len(got):
        if wanted[i] == got[j]:
            i += 1
            j += 1
        elif wanted[i] < got[j]:
            missing += 1
            i += 1
        else:
            extra += 1
            j += 1
    return missing + len(wanted) - i, extra + len(got) - j
