"""The compiled fast path (parsers._fastscan) against Python's regex engine and the Python loop.

The scanner must match exactly the lines `re` matches, with the same group spans, and the
chunks it encodes must be byte for byte what the Python loop (and so the general path) writes:
on the real corpora, on generated lines full of quotes, backslashes and control characters,
and where it has to hand lines back (non-ASCII text, long or odd integers, timestamps it cannot
take from the cache, lines the rule does not match).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import parsers.native_chunk as native_chunk
from benchmarks.nginx_log import NGINX_RULE
from benchmarks.nginx_log import lines as nginx_lines
from logship.core.lines import Lines
from parsers.scan_program import scan_program
from tests.harness import AgentProcess, read_ndjson, run_cli, wait_until, write_config
from tests.parsers.test_fast_chunk import (
    FILE,
    READ_TIME,
    STAMPS,
    assert_same,
    chain_of,
    custom,
    frame,
)

ROOT = Path(__file__).resolve().parents[2]

# Delimiter-style rules for real formats, as people write them (all inside the scanner's subset).
CORPUS_RULES: dict[str, dict[str, Any]] = {
    "elastic-examples/apache_access.log": {
        "regex": r'^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
        r"(?P<status>\d{3}) (?P<bytes>\S+)",
        "types": {"status": "int"},
        "timestamp": {"field": "time", "format": "%d/%b/%Y:%H:%M:%S %z"},
    },
    "loghub/HealthApp/HealthApp_2k.log": {
        "regex": r"^(?P<time>[^|]+)\|(?P<component>[^|]+)\|(?P<pid>\d+)\|(?P<content>.*)$",
        "types": {"pid": "int"},
    },
    "loghub/HDFS/HDFS_2k.log": {
        "regex": r"^(?P<date>\d{6}) (?P<clock>\d{6}) (?P<pid>\d+) (?P<level>[A-Z]+) "
        r"(?P<component>[^:]+): (?P<content>.*)",
        "types": {"pid": "int"},
    },
    "loghub/Proxifier/Proxifier_2k.log": {
        "regex": r"^\[(?P<time>[^\]]+)\] (?P<program>\S+) - (?P<content>.*)$",
    },
    "loghub/Zookeeper/Zookeeper_2k.log": {
        "regex": r"^(?P<date>\S+) (?P<time>\S+) - (?P<level>[A-Z]+) +\[(?P<thread>[^\]]+)\] - "
        r"(?P<content>.*)$",
        "timestamp": {"field": "date", "format": "%Y-%m-%d"},
    },
    "loghub/Linux/Linux_2k.log": {
        "regex": r"^(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) "
        r"(?P<hostname>\S+) (?P<process>[^:\[]+)(?P<rest>[:\[].*)$",
        "types": {"day": "int"},
    },
}

COMPILED = pytest.mark.skipif(
    not native_chunk.ENABLED, reason="the extension is not built or LOGSHIP_PURE_PYTHON is set"
)
"""For tests of what only the compiled scanner does."""


@pytest.fixture(params=["native", "python"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Chains built with the compiled scanner on, then off (the pure-Python fallback)."""
    monkeypatch.setattr(native_chunk, "ENABLED", request.param == "native")
    return str(request.param)


def scanner(pattern: str) -> Any:
    program = scan_program(pattern)
    assert program is not None, pattern
    groups = re.compile(pattern).groups
    assert native_chunk._fastscan is not None
    return native_chunk._fastscan.Encoder(program, (), groups, {}, lambda text: None, {})


def spans(pattern: str, line: str) -> tuple[tuple[int, int], ...] | None:
    m = re.compile(pattern).match(line)
    return None if m is None else tuple(m.span(i) for i in range(1, m.re.groups + 1))


def test_the_extension_is_built() -> None:
    # make venv compiles it (gcc and the Python headers are on every machine we test on); a
    # missing build would quietly make every benchmark a pure-Python one.
    assert native_chunk._fastscan is not None
    assert native_chunk.ENABLED or os.environ.get("LOGSHIP_PURE_PYTHON")


@COMPILED
def test_the_benchmark_rule_takes_the_compiled_path() -> None:
    chain = chain_of([custom(**NGINX_RULE)], STAMPS["agent metadata"])
    assert isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    # Not for records observers read as dicts: those keep the Python loop.
    assert not isinstance(chain.fast_kept, native_chunk.NativeChunkEncoder)


@pytest.mark.parametrize("corpus", sorted(CORPUS_RULES))
def test_the_scanner_matches_what_re_matches_on_the_corpora(corpora: Path, corpus: str) -> None:
    pattern = CORPUS_RULES[corpus]["regex"]
    scan = scanner(pattern)
    lines = (corpora / corpus).read_text(errors="replace").splitlines()
    ascii_lines = [line for line in lines if line.isascii()]
    assert len(ascii_lines) > len(lines) * 0.9
    matched = 0
    for line in ascii_lines:
        want = spans(pattern, line)
        assert scan.match(line) == want, line
        matched += want is not None
    assert matched > 0, "the rule should match some of its corpus"


@pytest.mark.parametrize("corpus", sorted(CORPUS_RULES))
def test_corpus_rules_encode_as_the_general_path_does(
    corpora: Path, corpus: str, mode: str
) -> None:
    rule = custom(**CORPUS_RULES[corpus])
    for stamp in ("no stamp", "agent metadata"):
        chain = chain_of([rule], STAMPS[stamp])
        assert isinstance(chain.fast, native_chunk.NativeChunkEncoder) == (mode == "native")
        assert_same(chain, frame((corpora / corpus).read_bytes()))
    # The benchmark's nginx rule over the same lines: nearly all of them are fallbacks.
    assert_same(
        chain_of([custom(**NGINX_RULE)], STAMPS["agent metadata"]),
        frame((corpora / corpus).read_bytes()),
    )


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?P<a>\S+)|(?P<b>x)",  # alternation
        r"(?P<a>\S+)?x",  # optional group
        r"(?P<a>.*?) x",  # lazy
        r"(?P<a>\w+) (?P=a)",  # backreference
        r"(?=a)(?P<a>\w+)",  # lookahead
        r"(?P<a>\S+)(?P<b>\S+)",  # a run followed by its own characters: needs backtracking
        r"(?P<a>.*)x",  # the same with `.`
        r"(?P<a>\d+)\d",
        r"(?i)(?P<a>[a-z]+) ",  # flags
        r"(?P<a>é+) ",  # non-ASCII literal
        r"(?:ab)+(?P<a>\S+)",  # repeated sequence
        r"(?P<a>\d{1,3})\d",  # a bounded run that could give back
    ],
)
def test_patterns_outside_the_subset_keep_the_regex_engine(pattern: str) -> None:
    assert scan_program(pattern) is None


@pytest.mark.parametrize(
    "pattern",
    [
        NGINX_RULE["regex"],
        r'^(?P<a>\S+) +(?P<b>\d{3}) (?P<c>[^"]*)$',
        r"(?P<a>\w+)\s+(?P<b>\d*)(?P<c>[a-z]*)",
        r"^(?P<a>[A-Za-z_]+)=(?P<b>\d+)(?P<c>[^\d\n]*)$",
        r"(?P<a>[^\]]*)\](?P<b>x{0,2})",
    ],
)
def test_patterns_inside_the_subset_compile(pattern: str) -> None:
    assert scan_program(pattern) is not None


ALPHABET = st.sampled_from(list(' "\\\t\x01\x1f\x7f\n\r[]-=|:ab Z09éx'))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(ALPHABET, max_size=8), min_size=1, max_size=8))
def test_the_scanner_agrees_with_re_on_generated_text(parts: list[str]) -> None:
    line = " ".join(parts)
    if not line.isascii():
        return
    for pattern in (
        NGINX_RULE["regex"],
        r'^(?P<a>\S+) +(?P<b>\d{1,3}) "(?P<c>[^"]*)" (?P<d>.*)$',
        r"(?P<a>[a-z]*)\s*(?P<b>[^|\sa-z]+)\|(?P<c>\w{2})(?P<d>.)",
        r"^(?P<a>[^\]]+)\] (?P<b>\D+)$",
    ):
        assert scanner(pattern).match(line) == spans(pattern, line), (pattern, line)


RULE = {
    "regex": r'^(?P<who>\S+) (?P<n>\d+) "(?P<text>[^"]*)" \[(?P<time>[^\]]*)\] (?P<rest>.*)$',
    "types": {"n": "int"},
    "timestamp": {"field": "time", "format": "%Y-%m-%dT%H:%M:%S%z"},
}

LINE = st.builds(
    lambda who, n, text, time, rest: f'{who} {n} "{text}" [{time}] {rest}',
    st.text(st.sampled_from(list("ab\\\x01é")), min_size=1, max_size=4),
    st.sampled_from(["0", "7", "007", "123456789012345678", "1234567890123456789", "99" * 12]),
    st.text(st.sampled_from(list("ab\\\t\x1f\x7f -é")), max_size=6),
    st.sampled_from(["2026-01-02T03:04:05+0000", "2026-13-02T03:04:05+0000", "", "soon"]),
    st.text(st.sampled_from(list('x "\\]\x00é')), max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(LINE, st.text(max_size=12)), min_size=1, max_size=30))
def test_generated_chunks_encode_as_the_python_loop_does(lines: list[str]) -> None:
    data = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines) + "\n"
    chunk = frame(data.encode())
    results = []
    enabled = native_chunk.ENABLED
    for compiled in (True, False):
        native_chunk.ENABLED = compiled
        try:
            chain = chain_of([custom(**RULE)], STAMPS["agent metadata"])
        finally:
            native_chunk.ENABLED = enabled
        results.append(chain.encode(chunk, FILE, READ_TIME))
        if results[-1] is not None:  # None: a record JSON cannot hold (both paths agree)
            assert_same(chain, chunk)
    assert results[0] == results[1]


@COMPILED
def test_lines_the_scanner_leaves_are_written_in_their_place() -> None:
    chain = chain_of([custom(**RULE)], STAMPS["agent metadata"])
    assert isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    lines = [
        'a 1 "x" [2026-01-02T03:04:05+0000] plain',
        'é 2 "x" [2026-01-02T03:04:05+0000] not ascii',
        "no match at all",
        'b 0003 "q\\x" [2026-01-02T03:04:05+0000] leading zeros',
        'c 12345678901234567890 "x" [2026-01-02T03:04:05+0000] too long for the scanner',
        'd 4 "x" [not a time] the rule\'s generic path',
        'e 5 "tab\there" [2026-01-02T03:04:06+0000] last',
    ]
    out = assert_same(chain, frame(("\n".join(lines) + "\n").encode())).splitlines()
    assert [orjson.loads(record)["message"] for record in out] == lines
    assert b'"n":3' in out[3]
    assert b'"n":12345678901234567890' in out[4]
    assert b"parse_failure" in out[2]
    assert b'"tab\\there"' in out[6]


@COMPILED
def test_a_chunk_the_scanner_mostly_misses_hands_the_next_ones_to_python() -> None:
    chain = chain_of([custom(**RULE)], STAMPS["agent metadata"])
    fast = chain.fast
    assert isinstance(fast, native_chunk.NativeChunkEncoder)
    foreign = frame(
        "".join(f'é{i} 1 "x" [2026-01-02T03:04:05+0000] y\n' for i in range(20)).encode()
    )
    assert_same(chain, foreign)
    assert fast.pause == native_chunk._PAUSE
    plain = frame(b'a 1 "x" [2026-01-02T03:04:05+0000] y\n')
    assert_same(chain, plain)
    assert fast.pause == native_chunk._PAUSE - 1


def test_the_pure_python_switch() -> None:
    code = "import parsers.native_chunk as n; print(n.ENABLED)"
    env = {**os.environ, "LOGSHIP_PURE_PYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@COMPILED
def test_an_empty_chunk() -> None:
    chain = chain_of([custom(**RULE)], STAMPS["agent metadata"])
    assert isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    written: list[bytes] = []
    chain.fast([], [], READ_TIME, b"{}", None, written.append, None, None)
    assert written == [b""]
    assert chain.encode(Lines([], [], 0), FILE, READ_TIME) is not None


@COMPILED
def test_check_says_which_inputs_get_the_compiled_scanner(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    slow = {"name": "slow", "regex": r"(?P<a>\S+)?(?P<b>.*)"}  # optional part: the regex engine
    doc = {
        "agent": {"data_dir": str(tmp_path / "data")},
        "inputs": [
            {"name": "scanned", "paths": [str(log)], "parsers": ["nginx_combined"]},
            {"name": "regex", "paths": [str(log)], "parsers": ["slow"]},
            {"name": "two", "paths": [str(log)], "parsers": ["slow", "nginx_combined"]},
        ],
        "parsers": [NGINX_RULE, slow],
        "sinks": [{"name": "out", "type": "file", "path": str(tmp_path / "out.ndjson")}],
    }
    result = run_cli("check", "-c", str(write_config(tmp_path / "agent.yaml", doc)))
    assert result.returncode == 0, result.stderr
    assert "scanned: compiled scanner (C)" in result.stdout
    assert "regex: generated fast loop (Python)" in result.stdout
    assert "two: general path" in result.stdout
    assert "alert conditions" not in result.stdout  # no alert rules


@COMPILED
def test_check_says_where_alert_conditions_are_decided(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    doc = {
        "agent": {"data_dir": str(tmp_path / "data")},
        "inputs": [
            {"name": "web", "paths": [str(log)], "parsers": ["nginx_combined"]},
            {"name": "other", "paths": [str(log)], "parsers": ["nginx_combined"]},
        ],
        "parsers": [NGINX_RULE],
        "sinks": [{"name": "out", "type": "file", "path": str(tmp_path / "out.ndjson")}],
        "alerts": {
            "destinations": [{"name": "hook", "url": "http://127.0.0.1:9/hook"}],
            "rules": [
                {"name": "errors", "inputs": ["web"], "when": {"field": "status", "gte": 500}},
                {"name": "text", "inputs": ["other"], "when": {"field": "message", "matches": "x"}},
            ],
        },
    }
    result = run_cli("check", "-c", str(write_config(tmp_path / "agent.yaml", doc)))
    assert result.returncode == 0, result.stderr
    assert "web: alert conditions (1 rule) decided in the compiled scanner (C)" in result.stdout
    assert "other: alert conditions (1 rule) decided in the generated fast loop" in result.stdout


def test_the_agent_ships_the_same_records_with_and_without_the_scanner(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    # End to end through the tailer, the queue and the file sink, with a crash in the middle:
    # the compiled path and the pure-Python one write the same records for every line.
    lines = [line.rstrip("\n") for line in nginx_lines(3000, seed=7)]
    lines[10] = lines[10].replace("GET", "GÉT")  # not ASCII: handed back to Python
    lines[20] = "a line the rule does not match"
    lines[30] = '10.0.0.1 - - [24/Nov/2025:16:00:00 +0000] "GET / HTTP/1.1" 200 0012 "-" "curl/8"'
    outputs = {}
    for mode, env in (("compiled", {}), ("python", {"LOGSHIP_PURE_PYTHON": "1"})):
        work = tmp_path / mode
        log = work / "access.log"
        work.mkdir()
        log.write_text("\n".join(lines[:1500]) + "\n")
        out = work / "out.ndjson"
        doc = {
            "agent": {"data_dir": str(work / "data"), "workers": 1, "checkpoint_interval": "50ms"},
            "inputs": [{"name": "web", "paths": [str(log)], "parsers": ["nginx_combined"]}],
            "parsers": [NGINX_RULE],
            "sinks": [{"name": "out", "type": "file", "path": str(out)}],
        }
        config = write_config(work / "agent.yaml", doc)
        agent = AgentProcess(config, env=env).start()
        agents.append(agent)
        wait_until(lambda out=out: len(read_ndjson(out)) >= 1500, timeout=60)
        agent.kill()  # a crash: the rest is read after the restart
        with log.open("a") as f:
            f.write("\n".join(lines[1500:]) + "\n")
        agent = AgentProcess(config, env=env).start()
        agents.append(agent)
        wait_until(lambda out=out: len(read_ndjson(out)) >= 3000, timeout=60)
        assert agent.stop() == 0
        by_offset = {r["log"]["offset"]: r for r in read_ndjson(out)}
        assert [r["message"] for _, r in sorted(by_offset.items())] == lines
        for record in by_offset.values():
            record["log"]["file"].pop("path")
            if "parse_failure" in record.get("tags", []):
                record.pop("@timestamp")  # the read time
        outputs[mode] = by_offset
    assert outputs["compiled"].keys() == outputs["python"].keys()
    for offset, record in outputs["compiled"].items():
        other = outputs["python"][offset]
        other["log"]["file"] = record["log"]["file"]  # different files, same bytes read
        assert record == other
    assert outputs["compiled"][sorted(outputs["compiled"])[30]]["bytes"] == 12  # leading zeros


@COMPILED
def test_a_chunk_whose_escapes_outgrow_the_first_size_is_written_whole() -> None:
    # The compiled encoder writes into a bytes object sized for twice the chunk's text (plus
    # 64 KiB); control characters are written as six bytes (\u0001) in the message and again
    # in the group, so this chunk needs several times that: the object grows mid-chunk.
    chain = chain_of([custom(**RULE)], STAMPS["agent metadata"])
    assert isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    lines = [
        f'w{i} {i} "{chr(1 + i % 7) * 200}" [2026-01-02T03:04:05+0000] {chr(2) * 100}'
        for i in range(2_000)
    ]
    text = "\n".join(lines) + "\n"
    out = assert_same(chain, frame(text.encode()))
    assert len(out) > 4 * len(text) + (1 << 16)  # (beyond the first size)
    assert [orjson.loads(record)["message"] for record in out.splitlines()] == lines
