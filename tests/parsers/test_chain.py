"""ParserChain: first match wins, the record envelope, unmatched lines, drops, stats, redaction."""

from __future__ import annotations

from typing import Any

from logship.core.lines import Lines
from parsers.chain import NO_RULE, ParserChain
from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.grok import GrokLibrary
from parsers.redaction import Redactor

FILE = {"path": "/var/log/app.log", "device_id": "2049", "inode": "77"}


def rule(**settings: Any) -> Any:
    return compile_rule(RuleSettings.model_validate(settings), GrokLibrary.builtin())


def lines(*texts: str, truncated: list[int] | None = None) -> Lines:
    starts, offset = [], 100
    for text in texts:
        starts.append(offset)
        offset += len(text) + 1
    return Lines(list(texts), starts, offset, truncated or [])


NUMBER = rule(name="number", regex=r"^(?P<n>\d+)$", types={"n": "int"})
WORD = rule(name="word", regex=r"^(?P<w>[a-z]+)(?: (?P<level>\w+))?$")


def test_first_matching_rule_wins_and_every_record_has_the_envelope() -> None:
    chain = ParserChain([NUMBER, WORD], "node-1")
    entries, stats = chain.parse(lines("42", "abc ERR", "7"), FILE, "2026-01-01T00:00:00.000Z")
    assert entries[0] == {
        "n": 42,
        "@timestamp": "2026-01-01T00:00:00.000Z",
        "message": "42",
        "log": {"file": FILE, "offset": 100},
        "host": {"name": "node-1"},
    }
    assert entries[1]["w"] == "abc"
    assert entries[1]["log"] == {"level": "error", "file": FILE, "offset": 103}
    assert stats.matched == {"number": 2, "word": 1}
    assert stats.unmatched == 0


def test_records_share_no_mutable_objects() -> None:
    entries, _ = ParserChain([NUMBER], "h").parse(lines("1", "2"), FILE, "t")
    assert entries[0]["log"]["file"] is not entries[1]["log"]["file"]
    assert entries[0]["log"]["file"] is not FILE
    assert entries[0]["host"] is not entries[1]["host"]


def test_unmatched_lines_are_kept_raw_and_tagged_by_default() -> None:
    entries, stats = ParserChain([NUMBER], "h").parse(lines("x", "1"), FILE, "RT")
    assert entries[0] == {
        "@timestamp": "RT",
        "message": "x",
        "log": {"file": FILE, "offset": 100},
        "host": {"name": "h"},
        "tags": ["parse_failure"],
    }
    assert stats.unmatched == 1
    assert stats.unmatched_examples == [(100, "x")]
    assert stats.dropped == {}


def test_on_no_match_drop_drops_and_counts() -> None:
    entries, stats = ParserChain([NUMBER], "h", on_no_match="drop").parse(
        lines("x", "1", "y"), FILE, "RT"
    )
    assert [e["message"] for e in entries] == ["1"]
    assert stats.unmatched == 2
    assert stats.dropped == {NO_RULE: 2}


def test_drop_if_sees_the_whole_record_and_is_counted_per_rule() -> None:
    quiet = rule(
        name="quiet",
        regex=r"^(?P<url.original>\S+) (?P<status>\d+)$",
        types={"status": "int"},
        drop_if={
            "any": [
                {"field": "url.original", "matches": "^/health"},
                {"field": "log.file.path", "equals": "/nope"},
            ]
        },
    )
    entries, stats = ParserChain([quiet], "h").parse(
        lines("/healthz 200", "/api 500", "/health 200"), FILE, "t"
    )
    assert [e["url"]["original"] for e in entries] == ["/api"]
    assert stats.matched == {"quiet": 3}
    assert stats.dropped == {"quiet": 2}


def test_truncated_flags_land_on_the_right_records_when_lines_are_dropped() -> None:
    chain = ParserChain([NUMBER], "h", on_no_match="drop")
    entries, _ = chain.parse(lines("x", "1", "y", "2", "3", truncated=[0, 3, 4]), FILE, "t")
    assert [(e["message"], e["log"].get("flags")) for e in entries] == [
        ("1", None),
        ("2", ["truncated"]),
        ("3", ["truncated"]),
    ]


def test_field_errors_are_reported_once_per_parse_call() -> None:
    typed = rule(name="typed", regex=r"^(?P<n>\S+)$", types={"n": "int"})
    chain = ParserChain([typed], "h")
    _, stats = chain.parse(lines("x", "1", "y"), FILE, "t")
    assert stats.field_errors == {("typed", "type_conversion_failure"): 2}
    _, stats = chain.parse(lines("2"), FILE, "t")
    assert stats.field_errors == {}


def test_captured_host_and_log_fields_merge_with_the_envelope() -> None:
    syslogish = rule(name="s", regex=r"^(?P<host.hostname>\S+) (?P<log.logger>\S+)$")
    entries, _ = ParserChain([syslogish], "node-1").parse(lines("web-1 app"), FILE, "t")
    assert entries[0]["host"] == {"hostname": "web-1", "name": "node-1"}
    assert entries[0]["log"] == {"logger": "app", "file": FILE, "offset": 100}


def test_redaction_applies_to_parsed_and_unmatched_records() -> None:
    chain = ParserChain([NUMBER, WORD], "h", redactor=Redactor(["email", "password"]))
    entries, _ = chain.parse(lines("mail bob@example.com password=x", "abc", "1"), FILE, "t")
    assert entries[0]["message"] == "mail [REDACTED:email] password=[REDACTED:password]"
    assert entries[1]["message"] == "abc"
