"""Alerts on the fast path: the records the chain selects while it encodes a chunk
(`ParserChain.encode(select=...)`, `AlertEngine.observe_selected`) decide exactly as the
engine's scan of the general path's records, with the benchmark's ten rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from benchmarks.alerts_overhead import RULES
from benchmarks.nginx_log import NGINX_RULE, lines
from logship.core.lines import Lines
from logship.core.ndjson import encode_ndjson
from logship.observe.alerts.engine import AlertEngine
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.settings import AlertRuleSettings
from logship.tail.framing import LineFramer
from parsers import native_chunk
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.condition import compile_condition
from parsers.config import RuleSettings
from parsers.section import ParsersSettings
from parsers.selection import Selection
from parsers.stamp import Stamp
from tests.parsers.test_native_select import expanded

END = dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp()
READ_TIME = "2026-01-02T00:00:00.000Z"
FILE = {"path": "/var/log/nginx/access.log", "device_id": "2049", "inode": "1234"}
AGENT = {"ecs": {"version": "8.11.0"}, "agent": {"type": "logship", "version": "0", "name": "h"}}
STAMPS = {
    "no stamp": None,
    "agent metadata": Stamp.build(dict(AGENT), [], None),
    "fields, tags and dataset": Stamp.build(
        {**AGENT, "service": {"name": "shop"}, "labels": {"team": "a"}}, ["web"], "app.access"
    ),
}


def nginx_chain(stamp: Stamp | None) -> ParserChain:
    section = ParsersSettings()
    rule = compile_rule(
        RuleSettings.model_validate(NGINX_RULE), section.library, "UTC", lambda: END
    )
    return ParserChain([rule], "node-1", clock=lambda: END, stamp=stamp)


def chunks(count: int = 4000) -> list[Lines]:
    """nginx lines of the last minute, with lines no rule matches (the general path) among them."""
    text = []
    for n, line in enumerate(lines(count, start=END - 60, per_second=count // 60)):
        text.append(line)
        if n % 997 == 0:
            text.append(f"not an access line {n} 500 DELETE /login\n")
    data = "".join(text).encode()
    framer = LineFramer(0, 1 << 20)
    return [framer.feed(data[i : i + 65536]) for i in range(0, len(data), 65536)]


def engine(sent: list[Notification], rules: list[dict[str, Any]] = RULES) -> AlertEngine:
    settings = [AlertRuleSettings.model_validate(r) for r in rules]
    return AlertEngine(settings, sent.append, "node-1", clock=lambda: END)


def items(value: Any) -> Any:
    """A record with its keys' order made visible (dict equality ignores it)."""
    if isinstance(value, dict):
        return [(k, items(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [items(v) for v in value]
    return value


def low(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule firing often: thresholds of 5 records, groups bounded at 50."""
    changed = dict(rule)
    if "threshold" in changed:
        changed["threshold"] = "count >= 5 within 1m"
    if "max_groups" in changed:
        changed["max_groups"] = 50
    return changed


RULE_SETS = {"benchmark rules": RULES, "low thresholds": [low(r) for r in RULES]}


@pytest.mark.parametrize("rules", list(RULE_SETS), ids=list(RULE_SETS))
@pytest.mark.parametrize("stamp", list(STAMPS), ids=list(STAMPS))
def test_selected_records_decide_as_the_scan_of_every_record_does(stamp: str, rules: str) -> None:
    chain = nginx_chain(STAMPS[stamp])
    old_sent: list[Notification] = []
    new_sent: list[Notification] = []
    old, new = engine(old_sent, RULE_SETS[rules]), engine(new_sent, RULE_SETS[rules])
    selection = new.selection("web")
    assert selection is not None
    counted = 0
    for chunk in chunks():
        entries, _ = chain.parse(chunk, FILE, READ_TIME)
        encoded = chain.encode(chunk, FILE, READ_TIME, keep=True, select=selection)  # as ships
        assert encoded is not None
        ndjson, count, _, hits = encoded
        assert ndjson == encode_ndjson(entries)
        assert count == len(entries)
        want = selection.hits()
        selection.scan(entries, want)
        assert items(expanded(hits, selection)) == items(want)  # the same records and dicts
        counted += len(hits.counted)
        old.observe("web", entries)
        new.observe_selected("web", hits)
    # C decided the conditions wherever it encodes the records
    assert bool(counted) == isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    assert new.counters() == old.counters()
    assert new_sent == old_sent
    assert sum(c["matches"] for c in new.counters()) > 1000
    assert "first_502" in {n.rule for n in new_sent}


def test_a_condition_on_a_field_the_fast_path_holds_as_a_fragment_selects_from_kept_records() -> (
    None
):
    chain = nginx_chain(STAMPS["agent metadata"])
    selection = Selection(
        [
            AlertRuleSettings.model_validate(
                {"name": "host", "when": {"field": "host.name", "equals": "node-1"}}
            ).when,
            AlertRuleSettings.model_validate(
                {"name": "file", "when": {"field": "log.file.path", "matches": "nginx"}}
            ).when,
        ]
    )
    chunk = chunks(200)[0]
    encoded = chain.encode(chunk, FILE, READ_TIME, select=selection)
    assert encoded is not None
    entries, _ = chain.parse(chunk, FILE, READ_TIME)
    assert items(encoded[3]) == items([entries, entries])


def test_records_no_condition_holds_for_are_not_kept() -> None:
    chain = nginx_chain(None)
    selection = Selection([AlertRuleSettings.model_validate(RULES[3]).when])  # /admin probes
    encoded = chain.encode(chunks(200)[0], FILE, READ_TIME, select=selection)
    assert encoded is not None
    assert encoded[3] == [[]]
    assert orjson.loads(encoded[0].splitlines()[0])["host"] == {"name": "node-1"}


VALUES: list[Any] = [
    200,
    200.0,
    404,
    "404",
    502,
    502.5,
    True,
    False,
    1,
    None,
    "-",
    "alice",
    "DELETE",
    "POST",
    "/login",
    "/admin/x",
    "sqlmap/1.0",
    49_501,
    "49501",
    {"a": 1},
    [1],
    "x" * 300,
]


def test_the_selection_answers_as_each_condition_compiled_alone_for_any_value() -> None:
    conditions = [AlertRuleSettings.model_validate(r).when for r in RULES]
    selection = Selection(conditions)
    fields = ["status", "url", "bytes", "method", "user_agent", "user_name"]
    records: list[dict[str, Any]] = []
    for i, value in enumerate(VALUES * 2):
        record: dict[str, Any] = {
            f: VALUES[(i + k * 7) % len(VALUES)] for k, f in enumerate(fields)
        }
        record[fields[i % len(fields)]] = value
        if i % 5 == 0:
            del record[fields[(i + 1) % len(fields)]]  # a missing field
        records.append(record)
    hits = selection.hits()
    selection.scan(records, hits)
    selection.scan(records, hits)  # the second pass answers from the memos
    for condition, got in zip(conditions, hits, strict=True):
        holds = compile_condition(condition)
        want = [r for r in records if holds(r)]
        assert [id(r) for r in got] == [id(r) for r in want + want]
    assert sum(map(len, hits)) > 20
