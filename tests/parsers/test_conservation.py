"""Conservation (DESIGN.md invariant 2): every line of an event reaches its record, in order.

The property test runs generated files through the agent's own stages (framing, multiline) and
a parser chain built from generated rules; the examples pin each path of `parsers.conserve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.core.lines import Lines
from logship.tail.settings import InputSettings
from logship.tail.stages import LineStages
from parsers.chain import PARSE_FAILURE, ParserChain
from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.grok import GrokLibrary
from parsers.redaction import Redactor
from parsers.rule import Rule

FILE = {"path": "/var/log/app.log", "device_id": "1", "inode": "2"}


def rule(**fields: Any) -> Rule:
    return compile_rule(RuleSettings.model_validate(fields), GrokLibrary.builtin())


def one_event(*event_lines: str) -> Lines:
    """One event joined from `event_lines`, as the multiline stage emits it."""
    text = "\n".join(event_lines)
    return Lines([text], [0], len(text) + 1, multiline=[0] if len(event_lines) > 1 else [])


def parse(chain: ParserChain, lines: Lines) -> list[dict[str, Any]]:
    entries, _ = chain.parse(lines, FILE, "2026-01-01T00:00:00.000Z")
    return entries


TRACE = [
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in <module>',
    "    lookup(3)",
    "KeyError: 3",
]


def test_a_message_rule_appends_the_continuation_lines_to_its_message() -> None:
    chain = ParserChain([rule(name="r", regex=r"^(?P<level>\w+) (?P<message>.*)")], "h")
    [rec] = parse(chain, one_event("ERROR lookup failed", *TRACE))
    assert rec["message"] == "\n".join(["lookup failed", *TRACE])
    assert rec["log"]["level"] == "error"
    assert rec["log"]["flags"] == ["multiline"]


def test_a_dollar_anchored_rule_matches_the_first_line_and_keeps_the_trace() -> None:
    kafka = rule(
        name="kafka",
        regex=r"^\[(?P<t>[^\]]+)\] (?P<level>\w+) (?P<message>.*) \((?P<log.logger>[^)]+)\)$",
    )
    first = "[2016-12-19 20:51:20,700] WARN Error in fetch (kafka.server.ReplicaFetcherThread)"
    frames = ["java.io.IOException: gone", "\tat scala.Option.foreach(Option.scala:257)"]
    [rec] = parse(ParserChain([kafka], "h"), one_event(first, *frames))
    assert "tags" not in rec
    assert rec["log"]["logger"] == "kafka.server.ReplicaFetcherThread"
    assert rec["message"] == "\n".join(["Error in fetch", *frames])


def test_a_failed_conversion_on_a_multiline_event_keeps_the_continuation_too() -> None:
    typed = rule(name="t", regex=r"^(?P<n>\S+) (?P<message>.*)", types={"n": "int"})
    [rec] = parse(ParserChain([typed], "h"), one_event("x hello", "  at y"))
    assert rec["tags"] == ["type_conversion_failure"]
    assert rec["n"] == "x"
    assert rec["message"] == "hello\n  at y"


def test_a_rule_that_consumes_the_whole_event_keeps_its_own_fields() -> None:
    dotall = rule(name="all", regex=r"(?s)^(?P<level>\w+) (?P<message>.*)$")
    [rec] = parse(ParserChain([dotall], "h"), one_event("INFO a", "b", "c"))
    assert rec["message"] == "a\nb\nc"


def test_a_rule_without_a_message_ships_the_whole_event_as_message() -> None:
    chain = ParserChain([rule(name="r", regex=r"^(?P<level>\w+) (?P<code>\d+)")], "h")
    [rec] = parse(chain, one_event("ERROR 42 failed", *TRACE))
    assert rec["code"] == "42"
    assert rec["message"] == "\n".join(["ERROR 42 failed", *TRACE])


def test_text_a_rule_leaves_on_the_first_line_is_kept_with_the_continuation() -> None:
    chain = ParserChain([rule(name="r", regex=r"^(?P<level>\w+) (?P<message>\w+)")], "h")
    [rec] = parse(chain, one_event("ERROR lookup failed: 3", "  detail"))
    assert rec["message"] == "lookup failed: 3\n  detail"


def test_an_event_no_rule_matches_ships_whole_and_tagged() -> None:
    chain = ParserChain([rule(name="r", regex=r"^(?P<level>[A-Z]+) (?P<message>.*)$")], "h")
    [rec] = parse(chain, one_event("oops", *TRACE))
    assert rec["message"] == "\n".join(["oops", *TRACE])
    assert rec["tags"] == [PARSE_FAILURE]


def test_json_and_logfmt_first_lines_keep_their_continuation() -> None:
    chain = ParserChain([rule(name="j", type="json"), rule(name="l", type="logfmt")], "h")
    events = Lines(
        ['{"level": "error", "message": "boom"}\n  at x\n  at y', 'level=warn msg="slow"\n  at z'],
        [0, 60],
        100,
        multiline=[0, 1],
    )
    json_rec, logfmt_rec = parse(chain, events)
    assert json_rec["message"] == "boom\n  at x\n  at y"
    assert json_rec["log"]["level"] == "error"
    assert logfmt_rec["message"] == "slow\n  at z"
    assert logfmt_rec["log"]["level"] == "warn"


def test_a_json_object_spread_over_lines_is_parsed_whole() -> None:
    chain = ParserChain([rule(name="j", type="json")], "h")
    [rec] = parse(chain, one_event("{", '  "message": "hi",', '  "n": 1', "}"))
    assert rec["message"] == "hi"
    assert rec["n"] == 1


def test_keep_original_carries_the_whole_event_next_to_the_parsed_fields() -> None:
    r = rule(name="r", regex=r"^(?P<level>\w+) (?P<message>.*)", add={"event.kind": "event"})
    chain = ParserChain([r], "h", keep_original=True)
    event = "\n".join(["ERROR lookup failed", *TRACE])
    [rec, unmatched] = parse(
        chain, Lines([event, "?"], [0, len(event) + 1], len(event) + 3, multiline=[0])
    )
    assert rec["event"] == {"kind": "event", "original": event}
    assert unmatched["event"] == {"original": "?"}
    [single] = parse(chain, Lines(["INFO ok"], [0], 8))
    assert single["event"] == {"kind": "event", "original": "INFO ok"}
    [default] = parse(ParserChain([r], "h"), Lines(["INFO ok"], [0], 8))
    assert default["event"] == {"kind": "event"}  # off by default


def test_a_redacted_secret_does_not_survive_in_event_original() -> None:
    chain = ParserChain(
        [rule(name="r", regex=r"^(?P<level>\w+) (?P<message>.*)")],
        "h",
        redactor=Redactor(["email"]),
        keep_original=True,
    )
    [rec] = parse(chain, one_event("ERROR mail to bob@example.com failed", "  at send"))
    assert "bob@example.com" not in orjson.dumps(rec).decode()
    assert rec["event"]["original"] == ("ERROR mail to [REDACTED:email] failed\n  at send")


def test_a_container_line_holding_newlines_keeps_them() -> None:
    chain = ParserChain([rule(name="r", regex=r"^(?P<level>\w+) (?P<message>.*)")], "h")
    lines = Lines(["ERROR a\n  b"], [0], 10, times=[""], streams=["stdout"])
    [rec] = parse(chain, lines)
    assert rec["message"] == "a\n  b"


# --- the property: generated events, generated rules, the agent's stages -------------------

START = r"^(\d+ |\{\"ts\"|ts=)"
"""A line starting like this starts an event; any other line continues the one before."""

WORD = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_.:/", min_size=1, max_size=8)
MESSAGE = st.lists(WORD, min_size=1, max_size=5).map(" ".join)
PIECE = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    max_size=8,
) | st.sampled_from(["\t", " ", "at ", "Caused by: ", "{", "ts=", "1 "])
CONTINUATION = (
    st.lists(PIECE, max_size=5)
    .map("".join)
    .filter(lambda s: not s.startswith(("{", "ts=")) and not s[:1].isdigit())
)


@dataclass(frozen=True)
class Shape:
    """A rule, and how an event's first line is written for it."""

    settings: dict[str, Any]
    captures_message: bool

    def first_line(self, ts: int, level: str, message: str, logger: str) -> str:
        kind = self.settings.get("type")
        if kind == "json":
            return orjson.dumps({"ts": ts, "level": level, "message": message}).decode()
        if kind == "logfmt":
            return f'ts={ts} level={level} msg="{message}"'
        return f"{ts} {level} {message} ({logger})"


SHAPES = [
    Shape({"regex": r"^(?P<ts>\d+) (?P<level>[A-Z]+) (?P<message>.*)"}, True),
    Shape({"regex": r"^(?P<ts>\d+) (?P<level>[A-Z]+) (?P<message>.*)$"}, True),
    Shape(
        {"regex": r"^(?P<ts>\d+) (?P<level>[A-Z]+) (?P<message>.*) \((?P<log.logger>[a-z.]+)\)$"},
        True,
    ),
    Shape({"grok": r"^%{NUMBER:ts} %{LOGLEVEL:level} %{GREEDYDATA:message}"}, True),
    Shape({"regex": r"^(?P<ts>\d+) (?P<level>[A-Z]+) "}, False),
    Shape({"regex": r"^never$"}, False),
    Shape({"type": "json"}, True),
    Shape({"type": "logfmt"}, True),
]


@st.composite
def shaped_events(draw: st.DrawFn) -> tuple[Shape, list[list[str]]]:
    """A rule shape and events for it: a first line each, then continuation lines."""
    shape = draw(st.sampled_from(SHAPES))
    out = []
    for _ in range(draw(st.integers(1, 6))):
        first = shape.first_line(
            draw(st.integers(0, 10**6)),
            draw(st.sampled_from(["INFO", "ERROR", "WARN"])),
            draw(MESSAGE),
            draw(st.sampled_from(["kafka.log", "a.b.c"])),
        )
        out.append([first, *draw(st.lists(CONTINUATION, max_size=5))])
    return shape, out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shaped_events(), st.booleans(), st.integers(1, 64))
def test_every_non_blank_line_of_an_event_is_in_its_record_in_order(
    drawn: tuple[Shape, list[list[str]]], keep_original: bool, chunk: int
) -> None:
    shape, evts = drawn
    chain = ParserChain([rule(name="r", **shape.settings)], "h", keep_original=keep_original)
    settings_ = InputSettings.model_validate(
        {
            "name": "app",
            "paths": ["/x/*.log"],
            "multiline": {"pattern": START, "negate": True, "match": "after"},
        }
    )
    data = "".join(line + "\n" for event in evts for line in event).encode()
    stages = LineStages(0, settings_)
    records: list[dict[str, Any]] = []
    for i in range(0, len(data), chunk):
        records += parse(chain, stages.feed(data[i : i + chunk]))
    records += parse(chain, stages.drain())

    assert len(records) == len(evts)
    for event, rec in zip(evts, records, strict=True):
        text = "\n".join(event)
        message = rec["message"]
        if shape.captures_message and "tags" not in rec:
            first, *rest = message.split("\n", 1)
            assert first in event[0]  # the captured message, a piece of the first line
            tail = rest[0] if rest else ""
        else:
            assert message.startswith(event[0])
            tail = message[len(event[0]) + 1 :]
        # Every continuation line, in order and exactly: message holds the event's own bytes
        # (a JSON object followed by blank lines parses whole: only whitespace is left out).
        if "".join(event[1:]).strip():
            assert tail == "\n".join(event[1:])
        position = 0
        for line in event[1:]:
            if line.strip():
                position = message.index(line, position) + len(line)
        if keep_original:
            assert rec["event"]["original"] == text
        else:
            assert "original" not in rec.get("event", {})
