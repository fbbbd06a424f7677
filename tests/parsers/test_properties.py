"""Property tests: no rule or chain raises on arbitrary text or bytes, and every line gives exactly
one record (or a counted drop)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.tail.framing import LineFramer
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.redaction import BUILTIN_REDACTORS, Redactor
from parsers.regex_rule import RegexRule
from parsers.rule import Rule
from parsers.section import ParsersSettings

SECTION = ParsersSettings()
RULES: list[Rule] = [
    compile_rule(SECTION.rule(name), SECTION.library)
    for name in SECTION.rule_names()
    if SECTION.entry(name).builtin  # type: ignore[union-attr]
]

# Text that looks a little like logs, so rules get past their first characters sometimes.
FRAGMENTS = st.sampled_from(
    [
        "10.0.0.1",
        "::1",
        " - - ",
        "[24/Nov/2025:16:00:00 +0000]",
        '"GET / HTTP/1.1"',
        " 200 ",
        "-",
        '"',
        "{",
        "}",
        '{"a":',
        "=",
        "level=",
        "Jun 14 15:16:01 ",
        "<34>",
        "<165>1 ",
        "sshd[1]: ",
        "Accepted password for ",
        " from ",
        " port ",
        "2026-01-01T00:00:00Z",
        "[error] ",
        "INFO ",
        "ERROR:",
        "[main] ",
        " - ",
        "\\",
        "\\x22",
        "\x00",
        "\u2028",
        "ü",
        "\U0001f600",
        "\t",
        "1764000000123",
        "[2016-12-19 16:31:47,999] ",
        " (kafka.log.Log)",
        "081109 203615 148 ",
        "2017-05-16 00:00:00.008 25746 ",
        "[req-1 u p - - -] ",
        "[instance: 1] ",
        "03-17 16:13:38.811  1702  2395 D ",
        "2016-09-28 04:30:30, Info  ",
        "- 1131566461 2005.11.09 ",
        "2005-06-03-15.42.50.675872 ",
        "20171223-22:15:29:606|",
        "[10.30 16:49:06] ",
    ]
)
LINE = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=LINE)
def test_no_rule_raises_on_any_text(line: str) -> None:
    for rule in RULES:
        rule.parse(line)
        if isinstance(rule, RegexRule):
            assert rule.parse(line) == rule.parse_generic(line)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), drop=st.booleans())
def test_a_chain_of_every_rule_turns_any_bytes_into_one_record_per_line(
    data: bytes, drop: bool
) -> None:
    chain = ParserChain(
        RULES, "h", on_no_match="drop" if drop else "keep", redactor=Redactor(BUILTIN_REDACTORS)
    )
    framer = LineFramer(0, 128)
    lines = framer.feed(data)
    tail = framer.flush()
    lines.texts += tail.texts
    lines.starts += tail.starts
    lines.truncated += [len(lines.texts) - len(tail.texts) + i for i in tail.truncated]
    entries, stats = chain.parse(lines, {"path": "p"}, "t")
    dropped = sum(stats.dropped.values())
    assert len(entries) + dropped == len(lines.texts)
    assert sum(stats.matched.values()) + stats.unmatched == len(lines.texts)
    for entry in entries:
        assert isinstance(entry["message"], str)
        assert isinstance(entry["@timestamp"], str)
        assert entry["host"]["name"] == "h"
        assert isinstance(entry["log"]["offset"], int)
