"""The fast path (`parsers.fast_chunk`, `ParserChain.encode`) against the general path
(`ParserChain.parse` then NDJSON encoding): the same bytes, in the same order, and the same
counts, on the golden files, Filebeat's fixtures, the shared corpora and the edge cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from benchmarks.nginx_log import NGINX_RULE
from logship.core.lines import Lines
from logship.core.ndjson import encode_ndjson
from logship.tail.framing import LineFramer
from parsers.chain import ChainStats, ParserChain, build_redactor
from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.section import ParsersSettings
from parsers.stamp import Stamp
from tests.parsers.golden.test_golden import CHAINS as GOLDEN_CHAINS
from tests.parsers.golden.test_golden import golden_names

HERE = Path(__file__).parent
CLOCK = dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp()
READ_TIME = "2026-01-02T00:00:00.000Z"
FILE = {"path": "/var/log/app.log", "device_id": "2049", "inode": "1234"}
AGENT = {"ecs": {"version": "8.11.0"}, "agent": {"type": "logship", "version": "0", "name": "h"}}

STAMPS: dict[str, Stamp | None] = {
    "no stamp": None,
    "agent metadata": Stamp.build(dict(AGENT), [], None),
    "fields, tags and dataset": Stamp.build(
        {**AGENT, "service": {"name": "shop"}, "labels": {"team": "a"}}, ["web"], "app.access"
    ),
}

SECTION = ParsersSettings()


def chain_of(rules: list[Any], stamp: Stamp | None = None, **options: Any) -> ParserChain:
    return ParserChain(rules, "host-1", clock=lambda: CLOCK, stamp=stamp, **options)


def builtin(name: str) -> Any:
    return compile_rule(SECTION.rule(name), SECTION.library, "UTC", lambda: CLOCK)


def custom(**settings: Any) -> Any:
    return compile_rule(
        RuleSettings.model_validate({"name": "custom", **settings}),
        SECTION.library,
        "UTC",
        lambda: CLOCK,
    )


def frame(data: bytes) -> Lines:
    framer = LineFramer(0, 1 << 20)
    lines = framer.feed(data)
    lines.extend(framer.flush())  # files that end without a newline
    return lines


def general(chain: ParserChain, lines: Lines) -> tuple[bytes, ChainStats]:
    entries, stats = chain.parse(lines, FILE, READ_TIME)
    return encode_ndjson(entries), stats


def assert_same(chain: ParserChain, lines: Lines) -> bytes:
    """The fast path applies and agrees with the general path, bytes and counts."""
    fast = chain.encode(lines, FILE, READ_TIME)
    assert fast is not None
    ndjson, count, stats, records = fast
    want, want_stats = general(chain, lines)
    assert ndjson == want
    assert count == want.count(b"\n")
    assert stats == want_stats
    assert records == []
    # Kept for observers (alerts): the general path's records as dicts, and the same bytes.
    kept = chain.encode(lines, FILE, READ_TIME, keep=True)
    assert kept is not None
    assert kept[0] == want
    assert kept[3] == chain.parse(lines, FILE, READ_TIME)[0]
    return ndjson


def single_line_rules() -> list[str]:
    """Every built-in regex / grok rule (json and logfmt rules have no fast path)."""
    names = sorted({r for n in golden_names() for r in GOLDEN_CHAINS.get(n, [n])})
    return [n for n in names if builtin(n).plan is not None]


@pytest.mark.parametrize("stamp", list(STAMPS), ids=list(STAMPS))
@pytest.mark.parametrize("rule", single_line_rules())
def test_every_built_in_rule_encodes_every_golden_line_as_the_general_path_does(
    rule: str, stamp: str
) -> None:
    # Every golden file through every rule: most lines match no rule but their own, so the
    # fallback (unmatched lines in their place) is exercised everywhere too.
    data = b"".join((HERE / "golden" / f"{n}.log").read_bytes() for n in golden_names())
    chain = chain_of([builtin(rule)], STAMPS[stamp])
    assert_same(chain, frame(data))


@pytest.mark.parametrize("name", sorted(p.stem for p in (HERE / "filebeat").glob("*.log")))
def test_filebeat_fixtures_encode_as_the_general_path_does(name: str) -> None:
    data = (HERE / "filebeat" / f"{name}.log").read_bytes()
    for rule in ("nginx_access", "apache_access", "apache_error", "sshd", "syslog_rfc3164"):
        assert_same(chain_of([builtin(rule)], STAMPS["agent metadata"]), frame(data))


def test_the_corpora_encode_as_the_general_path_does(corpora: Path) -> None:
    from tests.parsers.test_corpora import RATES

    # Each corpus through its own rules, and through the benchmark's nginx rule (which most
    # lines do not match: the fallback), with the two kinds of stamp.
    nginx = chain_of([custom(**NGINX_RULE)], STAMPS["fields, tags and dataset"])
    for corpus in sorted({c for c, _, _, _ in RATES}):
        lines = frame((corpora / corpus).read_bytes())
        for name in sorted({r for c, rules, _, _ in RATES if c == corpus for r in rules}):
            assert_same(chain_of([builtin(name)], STAMPS["agent metadata"]), lines)
        assert_same(nginx, lines)


def test_unmatched_lines_keep_their_place_and_are_tagged() -> None:
    chain = chain_of([custom(regex=r"^(?P<n>\d+) (?P<word>\w+)$", types={"n": "int"})])
    ndjson = assert_same(chain, frame(b"1 a\nnot a match\n2 b\n\n3 c\n"))
    records = ndjson.splitlines()
    assert b'"n":1,"word":"a"' in records[0]
    assert b'"message":"not a match"' in records[1]
    assert b"parse_failure" in records[1]
    assert b'"n":2' in records[2]
    assert b"parse_failure" in records[3]
    assert b'"n":3' in records[4]


def test_lines_no_rule_matches_are_counted_when_dropped() -> None:
    chain = chain_of([custom(regex=r"^(?P<word>\w+)$")], on_no_match="drop")
    ndjson = assert_same(chain, frame(b"a\nb c\nd\n"))
    assert ndjson.count(b"\n") == 2
    fast = chain.encode(frame(b"a\nb c\nd\n"), FILE, READ_TIME)
    assert fast is not None
    assert fast[2].dropped == {"": 1}
    assert fast[2].unmatched == 1


def test_a_failed_conversion_takes_the_generic_path_and_is_counted_once() -> None:
    chain = chain_of(
        [
            custom(
                regex=r"^(?P<t>\S+) (?P<n>\S+)$",
                types={"n": "int"},
                timestamp={"field": "t", "format": "ISO8601"},
            )
        ]
    )
    lines = frame(b"2026-01-01T00:00:00Z 5\n2026-01-01T00:00:00Z five\nyesterday 6\n")
    ndjson = assert_same(chain, lines)
    assert ndjson.count(b"\n") == 3
    fast = chain.encode(lines, FILE, READ_TIME)
    assert fast is not None
    assert sum(fast[2].field_errors.values()) == 2


def test_a_record_json_cannot_hold_leaves_the_chunk_to_the_general_path() -> None:
    chain = chain_of([custom(regex=r"^(?P<n>\d+)$", types={"n": "int"})])
    lines = frame(b"1\n" + b"9" * 30 + b"\n2\n")
    assert chain.encode(lines, FILE, READ_TIME) is None
    entries, _ = chain.parse(lines, FILE, READ_TIME)
    assert [e["n"] for e in entries] == [1, int("9" * 30), 2]


def test_fields_a_rule_sets_below_log_host_and_agent_are_merged_as_the_general_path_does() -> None:
    rule = custom(
        regex=r"^(?P<level>\w+) (?P<log.logger>\S+) (?P<host.ip>\S+) (?P<agent.id>\S+) (?P<msg>.*)$",
        message="msg",
    )
    for stamp in STAMPS.values():
        assert_same(chain_of([rule], stamp), frame(b"WARN app.db 10.0.0.1 a-1 slow query\nx\n"))


def test_optional_groups_and_derived_fields_encode_as_the_general_path_does() -> None:
    rule = builtin("nginx_access")
    line = (
        b'10.0.0.1, 8.8.8.8 - bob [02/Jan/2026:00:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 5 '
        b'"-" "curl/8"\n'
    )
    assert_same(chain_of([rule], STAMPS["fields, tags and dataset"]), frame(line * 3))


@pytest.mark.parametrize(
    "lines",
    [
        Lines(["a\nb"], [0], 4, multiline=[0]),
        Lines(["a"], [0], 2, truncated=[0]),
        Lines(["a"], [0], 2, times=["2026-01-01T00:00:00.000Z"], streams=["stdout"]),
    ],
    ids=["multiline", "truncated", "container"],
)
def test_events_with_per_line_facts_take_the_general_path(lines: Lines) -> None:
    chain = chain_of([custom(regex=r"^(?P<word>\w+)")])
    assert chain.fast is not None
    assert chain.encode(lines, FILE, READ_TIME) is None


def test_chains_that_rewrite_records_have_no_fast_path() -> None:
    rule = custom(regex=r"^(?P<word>\w+)")
    assert chain_of([rule, rule]).fast is None
    assert chain_of([rule], keep_original=True).fast is None
    assert (
        chain_of([custom(regex=r"^(?P<w>\w+)", drop_if={"field": "w", "equals": "x"})]).fast is None
    )
    redactor = build_redactor(ParsersSettings.model_validate({"redact": {"builtins": ["email"]}}))
    assert chain_of([rule], redactor=redactor).fast is None
    assert chain_of([builtin("json")]).fast is None


def test_constants_with_keys_that_are_not_strings_encode_as_the_general_path_does() -> None:
    # YAML reads `fields: {codes: {200: ok}}` with an integer key: JSON makes it a string.
    stamp = Stamp.build({**AGENT, "codes": {200: "ok", "x": {7: "seven"}}}, [], None)
    chain = chain_of([custom(regex=r"^(?P<word>\w+)$")], stamp)
    ndjson = assert_same(chain, frame(b"a\nb c\nd\n"))
    assert b'"codes":{"200":"ok","x":{"7":"seven"}}' in ndjson
