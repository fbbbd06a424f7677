"""Proof: the parser layer turns any line into exactly one record (or a counted drop), never raises.

Random text lines, and lines shaped like what the rules expect with hostile values in them
(numbers beyond 64 bits, NUL, U+FFFD, deep or broken JSON, unbalanced logfmt quotes, odd
timestamps), through a chain of regex, grok, json, logfmt and built-in rules: one record per
line, unmatched lines shipped raw and tagged, and every record either encodes as JSON or is one
the sink worker dead-letters (an orjson encode error, nothing else).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logship.app.config_file import parse_config
from logship.core.lines import Lines
from parsers.chain import PARSE_FAILURE, build_chains

CONFIG = """
inputs:
  - name: fuzz
    paths: [/fuzz/*.log]
    parsers: [numbered, grokked, json, logfmt, nginx_access, syslog_rfc3164, python_logging]
parsers:
  - name: numbered
    regex: '^line (?P<n>-?\\d+) (?P<ratio>\\S+) (?P<ok>\\S+) (?P<rest>.*)$'
    types: {n: int, ratio: float, ok: bool}
  - name: grokked
    grok: '^%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:message}'
    timestamp: {field: ts}
sinks: [{name: o, type: stdout}]
"""

CHAIN = build_chains(parse_config(CONFIG, "fuzz.yaml", Path("/")))["fuzz"]

hostile = st.sampled_from(
    [
        "0",
        "-1",
        "123456789012345678901234567890",
        "1e999",
        "nan",
        "true",
        "\x00",
        "\ufffd",
        "é€😀",
        '"',
        "\\",
        "=",
        "",
        " ",
    ]
)
shaped = st.one_of(
    st.builds(lambda a, b, c, d: f"line {a} {b} {c} {d}", hostile, hostile, hostile, hostile),
    st.builds(lambda a, b: f"2026-11-24T10:00:{a} INFO {b}", hostile, hostile),
    st.builds(lambda a, b: f'{{"level": "{a}", "n": {b}}}', hostile, hostile),
    st.builds(lambda d: "[" * d + "]" * d, st.integers(0, 400)),
    st.builds(lambda d: '{"a":' * d + "1" + "}" * d, st.integers(0, 400)),
    st.builds(lambda a, b: f'level={a} msg="{b} n={a}', hostile, hostile),
    st.builds(
        lambda a: f'1.2.3.4 - - [24/Nov/2026:10:00:{a} +0100] "GET / HTTP/1.1" {a} {a}', hostile
    ),
    st.builds(lambda a: f"<{a}>Nov 24 10:00:00 host app[{a}]: {a}", hostile),
)
line = st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=200), shaped)


@settings(max_examples=500, deadline=None)
@given(texts=st.lists(line, min_size=1, max_size=20))
def test_every_line_becomes_one_record_that_encodes_or_is_dead_lettered(texts: list[str]) -> None:
    texts = [t.replace("\n", " ") for t in texts]  # framed lines hold no newline
    starts = [i * 1000 for i in range(len(texts))]
    lines = Lines(texts=texts, starts=starts, end=len(texts) * 1000)
    info = {"path": "/fuzz/a.log", "device_id": "1", "inode": "2"}
    entries, stats = CHAIN.parse(lines, info, "2026-11-24T10:00:00.000Z")
    assert len(entries) == len(texts)
    assert not stats.dropped
    assert sum(stats.matched.values()) + stats.unmatched == len(texts)
    for text, start, entry in zip(texts, starts, entries, strict=True):
        assert entry["log"]["offset"] == start
        if PARSE_FAILURE in entry.get("tags", []) and "message" in entry:
            assert entry["message"] == text
        try:
            orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            pass  # dead-lettered by the sink worker (tests/prove/test_unencodable_records.py)
