"""The built-in rules against Filebeat's modules: every event of Filebeat's own test fixtures, and
lines of ours for the forms Filebeat's ingest pipelines handle that the fixtures do not show.

Each `<name>.log` has a `<name>.expected.jsonl` beside it: per event, the values Filebeat gives
for the compared fields, flat (`source.ip`), as SOURCES.md describes. A test per file parses the
events the way the agent does (the multiline stage first, where the file has multiline events)
and reports every disagreement: which event, which field, ours and Filebeat's.

Where logship deliberately differs (docs/parser-rules.md, "Differences from Filebeat's
modules"), `_normalise` says how, and only those differences are forgiven.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.core.lines import Lines
from logship.tail.framing import LineFramer
from logship.tail.multiline import MultilineAssembler, MultilineSettings
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.section import ParsersSettings

HERE = Path(__file__).parent
CLOCK = dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp()
AUTH_CHAIN = ["sshd", "sudo", "groupadd", "useradd", "auth_user", "syslog_rfc3164"]
NGINX_ERROR_EVENTS = MultilineSettings(pattern=r"^\d{4}/\d\d/\d\d ", negate=True, match="after")

# file -> (parser chain, multiline settings or None)
FILES: dict[str, tuple[list[str], MultilineSettings | None]] = {
    "nginx-access": (["nginx_access"], None),
    "nginx-access-test": (["nginx_access"], None),
    "nginx-access-forms": (["nginx_access"], None),
    "nginx-error": (["nginx_error"], NGINX_ERROR_EVENTS),
    "apache-access-test": (["apache_access"], None),
    "apache-access-forms": (["apache_access"], None),
    "apache-error-test": (["apache_error"], None),
    "auth-test": (AUTH_CHAIN, None),
    "auth-forms": (AUTH_CHAIN, None),
    "syslog-darwin-multiline": (
        ["syslog_rfc3164"],
        MultilineSettings(preset="indented_continuation"),
    ),
    "syslog-forms": (["syslog_rfc3164"], None),
}


COMPARED = (
    "source.ip",
    "source.address",
    "source.domain",
    "source.port",
    "destination.domain",
    "destination.ip",
    "destination.port",
    "user.name",
    "user.id",
    "user.effective.name",
    "group.name",
    "group.id",
    "http.request.method",
    "http.request.referrer",
    "http.response.status_code",
    "http.response.body.bytes",
    "http.version",
    "url.original",
    "user_agent.original",
    "event.outcome",
    "event.action",
    "log.level",
    "process.name",
    "process.pid",
    "process.thread.id",
    "system.auth.ssh.event",
    "system.auth.ssh.method",
    "system.auth.ssh.signature",
    "system.auth.ssh.dropped_ip",
    "system.auth.useradd.home",
    "system.auth.useradd.shell",
    "nginx.error.connection_id",
    "host.hostname",
)
WITH_MESSAGE = {"nginx-error", "syslog-darwin-multiline", "syslog-forms"}
"""Files whose message is compared too (Filebeat's message there is the event's text)."""


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"source": {"ip": x}}` -> `{"source.ip": x}`."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def parse_events(name: str) -> list[dict[str, Any]]:
    """The records the agent ships for `<name>.log`: framing, multiline, the parser chain."""
    rules, multiline = FILES[name]
    section = ParsersSettings()
    chain = ParserChain(
        [compile_rule(section.rule(r), section.library, "UTC", lambda: CLOCK) for r in rules],
        "golden-host",
        clock=lambda: CLOCK,
    )
    framer = LineFramer(0, 1 << 20)
    lines = framer.feed((HERE / f"{name}.log").read_bytes())
    lines.extend(framer.flush())
    if multiline is not None:
        assembler = MultilineAssembler(multiline)
        events: Lines = assembler.feed(lines)
        events.extend(assembler.flush())
        lines = events
    entries, _ = chain.parse(lines, {"path": f"/var/log/{name}.log"}, "2026-01-02T00:00:00.000Z")
    return entries


def _normalise(field: str, ours: Any, theirs: Any, flat_ours: dict[str, Any]) -> Any:
    """Filebeat's value as logship deliberately gives it (the documented differences)."""
    if theirs == "-" and field in ("user.name", "http.request.referrer", "user_agent.original"):
        return None  # logship leaves `-` ("not logged") out
    if field == "http.request.method" and isinstance(theirs, str):
        return theirs.upper()  # older apache pipelines lower-case it; logship keeps it as sent
    if field == "source.address" and theirs is None and ours == flat_ours.get("source.ip"):
        return ours  # logship always sets source.address, also when the client is an IP
    return theirs


def disagreements(name: str) -> dict[int, list[str]]:
    """Per event number (1-based): `field: ours != Filebeat's` for every compared field."""
    expected = [
        orjson.loads(line) for line in (HERE / f"{name}.expected.jsonl").read_bytes().splitlines()
    ]
    entries = parse_events(name)
    assert len(entries) == len(expected), (
        f"{name}: {len(entries)} events, Filebeat has {len(expected)}"
    )
    fields = (*COMPARED, "message") if name in WITH_MESSAGE else COMPARED
    found: dict[int, list[str]] = {}
    for number, (entry, want) in enumerate(zip(entries, expected, strict=True), 1):
        ours = flatten(entry)
        for field in fields:
            theirs = _normalise(field, ours.get(field), want.get(field), ours)
            if ours.get(field) != theirs:
                found.setdefault(number, []).append(
                    f"{field}: ours {ours.get(field)!r} != Filebeat's {theirs!r}"
                )
    return found


@pytest.mark.parametrize("name", sorted(FILES))
def test_built_in_rules_give_filebeats_values_on_its_fixtures(name: str) -> None:
    found = disagreements(name)
    events = len((HERE / f"{name}.expected.jsonl").read_bytes().splitlines())
    wrong: dict[str, int] = {}
    for problems in found.values():
        for problem in problems:
            field = problem.split(":", 1)[0]
            wrong[field] = wrong.get(field, 0) + 1
    summary = ", ".join(f"{f} {events - n}/{events}" for f, n in sorted(wrong.items()))
    text = f"agreement per field: {summary}\n" + "\n".join(
        f"{name} event {number}: {problem}"
        for number, problems in found.items()
        for problem in problems
    )
    assert not found, text
