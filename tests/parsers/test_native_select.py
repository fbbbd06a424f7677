"""The compiled selection (parsers.native_select; the Selector in parsers._fastscan) against
the Python selection (parsers.selection) on the general path's records.

For any conditions over a rule's fields, with any group-by keys, the records C counts must be
exactly the records the Python code selects, each under the key and `@timestamp` it carries:
generated conditions of every operator and value type over nginx lines (with leading zeros,
integers beyond a double's exact range, escapes, non-ASCII lines C hands back, lines the rule
does not match), memos that overflow, a timestamp cache that forgets within a chunk, and
conditions outside what C decides (then the Python loop selects, and C counts nothing).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parsers.native_chunk as native_chunk
from benchmarks.nginx_log import NGINX_RULE
from benchmarks.nginx_log import lines as nginx_lines
from logship.core.lines import Lines
from logship.core.record import LogEntry, get_field, label_text
from parsers.chain import ParserChain
from parsers.condition import ConditionSettings
from parsers.selection import Hits, Selection
from tests.parsers.test_fast_chunk import FILE, READ_TIME, STAMPS, chain_of, custom, frame

pytestmark = pytest.mark.skipif(not native_chunk.ENABLED, reason="the extension is not built")

FIELDS = ["source_ip", "user_name", "method", "url", "http_version", "status", "bytes"]
FIELDS += ["referrer", "user_agent"]
NGINX = {k: v for k, v in NGINX_RULE.items() if k != "name"}


def expanded(hits: Hits, selection: Selection) -> list[list[LogEntry]]:
    """Per condition, the records it selected, in the log's order: the records handed over
    and those of the compiled selection's counts (checked against the values that key them)."""
    out = [list(records) for records in hits]
    for index, key, stamp, n, records in hits.counted:
        assert len(records) == n > 0
        for record in map(orjson.loads, records):
            assert tuple(label_text(get_field(record, f)) for f in selection.keys[index]) == key
            assert record["@timestamp"] == stamp
            out[index].append(record)
    return [sorted(records, key=lambda r: r["log"]["offset"]) for records in out]


def select_both(
    chain: ParserChain, lines: Lines, selection: Selection
) -> tuple[list[list[LogEntry]], Hits, Hits]:
    """(what the fast path selected, expanded; its hits; what the Python selection selects
    from the general path's records)."""
    encoded = chain.encode(lines, FILE, READ_TIME, select=selection)
    assert encoded is not None
    hits = encoded[3]
    entries, _ = chain.parse(lines, FILE, READ_TIME)
    want = selection.hits()
    selection.scan(entries, want)
    return expanded(hits, selection), hits, want


def odd_lines() -> str:
    """nginx lines C must read as Python does, or hand back."""
    return "".join(
        [
            '10.0.0.1 - - [01/Jan/2026:00:00:01 +0000] "GET /a HTTP/1.1" 040 0000123 "-" "x"\n',
            '10.0.0.2 - bob [01/Jan/2026:00:00:01 +0000] "POST /login HTTP/1.1" 500 '
            '9007199254740993 "-" "curl/8"\n',
            '10.0.0.3 - - [01/Jan/2026:00:00:02 +0000] "DELETE /q\\"x\\\\ HTTP/1.1" 404 5 "-" '
            '"sqlmap/1.0"\n',
            '10.0.0.4 - ünï [01/Jan/2026:00:00:02 +0000] "GET /é HTTP/1.1" 503 7 "-" "-"\n',
            "not an access line 500 DELETE /login\n",
            '10.0.0.5 - - [01/Jan/2026:00:00:03 +0000] "GET /long HTTP/1.1" 200 1 "-" "'
            + "Mozilla " * 200
            + '"\n',
            '10.0.0.6 - - [01/Jan/2026:00:00:03 +0000] "PUT / HTTP/1.1" 200 123456789012345678 '
            '"-" "-"\n',
        ]
    )


def chunk(count: int = 1500) -> Lines:
    text = "".join(nginx_lines(count, start=1_767_225_600.0, per_second=100))
    return frame((text + odd_lines() * 3).encode())


VALUES = [200, 404, "404", 404.0, 40, "040", "GET", "DELETE", "-", True, "true", 1.5, "/login"]
BOUNDS = [0, 40, 404, 499.5, 500, 25_000, 9_007_199_254_740_992, -1]
PATTERNS = ["^/(admin|login)", "(?i)CURL", "^4", "0$", "Go-", "^$", "x"]


def leaves() -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(FIELDS)
    one = st.one_of(
        st.builds(lambda v: {"equals": v}, st.sampled_from(VALUES)),
        st.builds(lambda v: {"in": v}, st.lists(st.sampled_from(VALUES), min_size=1, max_size=3)),
        st.builds(
            lambda op, b: {op: b},
            st.sampled_from(["gt", "gte", "lt", "lte"]),
            st.sampled_from(BOUNDS),
        ),
        st.builds(lambda p: {"matches": p}, st.sampled_from(PATTERNS)),
        st.builds(lambda e: {"exists": e}, st.booleans()),
    )
    return st.builds(
        lambda f, ops: {"field": f, **{k: v for op in ops for k, v in op.items()}},
        field,
        st.lists(one, min_size=1, max_size=2),
    )


conditions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=6,
)

LINES = chunk()
CHAIN = chain_of([custom(**NGINX)], STAMPS["agent metadata"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(conditions, st.lists(st.sampled_from(FIELDS), max_size=2)),
        min_size=1,
        max_size=5,
    )
)
def test_c_counts_the_records_python_selects(rules: list[tuple[dict[str, Any], list[str]]]) -> None:
    selection = Selection(
        [ConditionSettings.model_validate(c) for c, _ in rules], keys=[k for _, k in rules]
    )
    got, _hits, want = select_both(CHAIN, LINES, selection)
    assert got == want
    for records, wanted in zip(got, want, strict=True):  # the same dicts, keys in order too
        assert [list(r) for r in records] == [list(r) for r in wanted]


def test_the_benchmark_rules_are_decided_in_c_with_lines_handed_back_selected_in_python() -> None:
    from benchmarks.alerts_overhead import RULES
    from logship.observe.alerts.settings import AlertRuleSettings

    rules = [AlertRuleSettings.model_validate(r) for r in RULES]
    selection = Selection([r.when for r in rules], keys=[r.group_by for r in rules])
    got, hits, want = select_both(CHAIN, LINES, selection)
    assert got == want
    assert len(hits.counted) > 10
    assert sum(map(len, hits)) > 0  # the non-ASCII line, selected by the Python loop
    # Counts come by condition, then group, then time: the order the engine takes runs in.
    order = [(c[0], c[1]) for c in hits.counted]
    assert [c for c, _ in order] == sorted(c for c, _ in order)
    status = next(i for i, r in enumerate(rules) if r.name == "auth_failures_per_ip")
    assert {len(c[1]) for c in hits.counted if c[0] == status} == {1}


def test_memos_that_overflow_answer_the_same() -> None:
    text = "".join(
        f"10.0.{i % 256}.{i // 256} - - [01/Jan/2026:00:00:{i % 60:02d} +0000] "
        f'"GET /p/{"x" * (i % 3000)}{i} HTTP/1.1" {200 + i % 400} {i} "-" "agent-{i}"\n'
        for i in range(12_000)
    )
    selection = Selection(
        [
            ConditionSettings.model_validate({"field": "url", "matches": "7$"}),
            ConditionSettings.model_validate({"field": "user_agent", "equals": "agent-11999"}),
            ConditionSettings.model_validate(
                {"any": [{"field": "status", "in": [404, "500"]}, {"field": "bytes", "lt": 3}]}
            ),
        ],
        keys=[["url"], ["source_ip", "status"], []],
    )
    got, hits, want = select_both(CHAIN, frame(text.encode()), selection)
    assert got == want
    assert len(want[0]) > 1000
    assert len(want[1]) == 1
    assert not any(hits)  # every line was C's


def test_counts_keep_their_timestamp_when_the_rule_cache_forgets_it_within_a_chunk() -> None:
    text = "".join(
        f"10.0.0.1 - - [{1 + i // 86400:02d}/Jan/2026:{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
        f'{i % 60:02d} +0000] "GET / HTTP/1.1" 500 1 "-" "-"\n'
        for i in range(0, 6000 * 7, 7)
    )
    selection = Selection(
        [ConditionSettings.model_validate({"field": "status", "equals": 500})], keys=[[]]
    )
    got, hits, want = select_both(CHAIN, frame(text.encode()), selection)
    assert got == want
    assert len(hits.counted) == 6000  # every one under its own @timestamp (checked above)


@pytest.mark.parametrize(
    ("condition", "keys"),
    [
        ({"field": "message", "matches": "DELETE"}, []),  # the line: no group value
        ({"field": "status", "equals": 500}, ["@timestamp"]),  # a key C does not make
        ({"field": "service.name", "equals": "x"}, []),  # not in the record
    ],
)
def test_conditions_outside_what_c_decides_are_selected_by_the_python_loop(
    condition: dict[str, Any], keys: list[str]
) -> None:
    selection = Selection([ConditionSettings.model_validate(condition)], keys=[keys])
    got, hits, want = select_both(CHAIN, LINES, selection)
    assert got == want
    assert hits.counted == []
    assert not isinstance(CHAIN._selecting[selection], native_chunk.NativeChunkEncoder)


def test_a_rule_without_a_timestamp_counts_under_the_read_time() -> None:
    chain = chain_of(
        [
            custom(
                regex=r"^(?P<component>[^|]+)\|(?P<pid>\d+)\|(?P<content>.*)$", types={"pid": "int"}
            )
        ]
    )
    text = "".join(f"Step_{i % 7}|{30002312 + i % 3}|note {i}\n" for i in range(3000))
    selection = Selection(
        [
            ConditionSettings.model_validate({"field": "pid", "in": [30002312, "30002313"]}),
            ConditionSettings.model_validate({"field": "content", "matches": "7$"}),
        ],
        keys=[["component", "pid"], []],
    )
    got, hits, want = select_both(chain, frame(text.encode()), selection)
    assert got == want
    assert len(want[0]) == 2000
    assert {stamp for _, _, stamp, _, _ in hits.counted} == {READ_TIME}
    assert len(hits.counted) == 7 * 2 + 1  # (component, pid) pairs, and one count for rule 2


def test_short_texts_that_differ_in_one_byte_are_told_apart() -> None:
    # Texts of 8 bytes or fewer are compared as one word built from overlapping loads: every
    # byte must count, whatever the length.
    methods = ["P", "Q", "PU", "PV", "PUT", "PXT", "POST", "PQST", "PATCH", "PAXCH", "DELETES"]
    methods += ["DELXTES", "ABCDEFGH", "ABCXEFGH", "ABCDEFGX", "ABCDEFGHI"]
    text = "".join(
        f'10.0.0.{i % 7} - - [01/Jan/2026:00:00:01 +0000] "{methods[i % len(methods)]} /x '
        f'HTTP/1.1" 200 {i} "-" "-"\n'
        for i in range(400)
    )
    selection = Selection(
        [
            ConditionSettings.model_validate({"field": "method", "equals": "PUT"}),
            ConditionSettings.model_validate({"field": "method", "in": ["P", "PU", "POST"]}),
            ConditionSettings.model_validate({"field": "method", "in": ["PATCH", "DELETES"]}),
            ConditionSettings.model_validate({"field": "method", "equals": "ABCDEFGH"}),
        ],
        keys=[["method"], ["method"], [], ["source_ip"]],
    )
    got, hits, want = select_both(CHAIN, frame(text.encode()), selection)
    assert got == want
    assert [len(w) for w in want] == [25, 75, 50, 25]
    assert not any(hits)  # every line was C's
