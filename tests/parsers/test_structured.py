"""JSON and logfmt rules: fields of their own kind, the same settings as regex rules."""

from __future__ import annotations

from typing import Any

import pytest

from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.grok import GrokLibrary
from parsers.logfmt_rule import parse_logfmt


def rule(**settings: Any) -> Any:
    return compile_rule(RuleSettings.model_validate({"name": "r", **settings}), GrokLibrary({}))


def test_json_objects_nest_dotted_keys_and_read_level_message_and_own_timestamp() -> None:
    r = rule(type="json")
    assert r.parse(
        '{"@timestamp":"2026-01-01T00:00:00+01:00","log.level":"WARNING","message":"m","a.b":1,"a":{"c":2}}'
    ) == {
        "@timestamp": "2025-12-31T23:00:00.000Z",
        "log": {"level": "warn"},
        "message": "m",
        "a": {"b": 1, "c": 2},
    }


@pytest.mark.parametrize("line", ["[1,2]", '"text"', "{broken", "plain text", "", "  "])
def test_json_rule_does_not_match_what_is_not_an_object(line: str) -> None:
    assert rule(type="json").parse(line) is None


def test_json_values_that_collide_with_agent_fields_are_moved_aside() -> None:
    record = rule(type="json").parse('{"host":"web-1","log":"raw","tags":"one","message":{"k":1}}')
    assert record == {
        "host": {"hostname": "web-1"},
        "log": {"original": "raw"},
        "tags": ["one"],
        "message": '{"k":1}',
    }


def test_json_settings_types_timestamp_candidates_rename_remove_add() -> None:
    r = rule(
        type="json",
        types={"status": "int", "ok": "bool"},
        timestamp={"field": ["time", "ts"], "format": ["EPOCH"]},
        message=["msg"],
        rename={"status": "http.response.status_code"},
        remove=["secret.value"],
        add={"event.dataset": "shop"},
        tags=["json"],
    )
    record = r.parse(
        '{"ts":1764000000123,"status":"503","ok":"no","msg":"down","secret":{"value":1}}'
    )
    assert record == {
        "@timestamp": "2025-11-24T16:00:00.123Z",
        "http": {"response": {"status_code": 503}},
        "ok": False,
        "message": "down",
        "event": {"dataset": "shop"},
        "tags": ["json"],
    }


def test_json_failures_keep_raw_values_and_tag() -> None:
    r = rule(type="json", types={"n": "int"}, timestamp={"field": "time", "format": "ISO8601"})
    assert r.parse('{"n":"x","time":"soon","@timestamp":"never"}') == {
        "n": "x",
        "time": "soon",
        "timestamp_raw": "never",
        "tags": ["type_conversion_failure", "timestamp_parse_failure"],
    }


def test_logfmt_pairs_quoting_and_bare_keys() -> None:
    assert parse_logfmt('a=1 b="two words" c="q\\"d\\\\" d= flag e=x=y') == {
        "a": "1",
        "b": "two words",
        "c": 'q"d\\',
        "d": "",
        "flag": True,
        "e": "x=y",
    }


@pytest.mark.parametrize(
    "line",
    ["hello world", "GET /a?b=c HTTP/1.1", "error: x=1", 'a="unterminated', "=x", "k=v junk(1)"],
)
def test_logfmt_refuses_lines_that_are_not_logfmt(line: str) -> None:
    assert parse_logfmt(line) is None


def test_logfmt_rule_defaults_msg_level_and_moves_host() -> None:
    r = rule(type="logfmt", timestamp={"field": "ts", "format": "ISO8601"})
    assert r.parse('ts=2026-01-01T00:00:00Z level=E msg="boom" host=web-1 http.status=500') == {
        "@timestamp": "2026-01-01T00:00:00.000Z",
        "log": {"level": "error"},
        "message": "boom",
        "host": {"hostname": "web-1"},
        "http": {"status": "500"},
    }


def test_logfmt_key_that_is_both_a_value_and_an_object_keeps_both() -> None:
    assert rule(type="logfmt").parse("a=1 a.b=2") == {"a": {"value": "1", "b": "2"}}


def test_json_nested_deeper_than_sinks_can_encode_is_not_parsed() -> None:
    r = rule(type="json")
    deep = '{"a":' * 200 + "1" + "}" * 200
    assert r.parse(deep) is None
    fine = '{"a":' * 100 + "1" + "}" * 100
    assert r.parse(fine) is not None
