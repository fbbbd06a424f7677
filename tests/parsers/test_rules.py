"""Regex and grok rules: what a rule does to a line, and the errors it reports at load time."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.grok import GrokLibrary
from parsers.regex_rule import RegexRule
from parsers.rule import RuleError

LIBRARY = GrokLibrary.builtin()


def rule(**settings: Any) -> RegexRule:
    compiled = compile_rule(RuleSettings.model_validate({"name": "r", **settings}), LIBRARY)
    assert isinstance(compiled, RegexRule)
    return compiled


def both(r: RegexRule, line: str) -> Any:
    """The record of the generated builder, checked against the generic path."""
    fast = r.parse(line)
    assert fast == r.parse_generic(line)
    return fast


def test_dotted_names_become_nested_objects() -> None:
    r = rule(
        regex=r"(?P<http.request.method>\S+) (?P<http.response.status_code>\d+) (?P<url.original>\S+)"
    )
    assert both(r, "GET 200 /x") == {
        "http": {"request": {"method": "GET"}, "response": {"status_code": "200"}},
        "url": {"original": "/x"},
    }


def test_types_convert_and_a_failed_conversion_keeps_the_raw_value_and_tags() -> None:
    r = rule(
        regex=r"(?P<n>\S+) (?P<f>\S+) (?P<b>\S+)", types={"n": "int", "f": "float", "b": "bool"}
    )
    assert both(r, "42 1.5 yes") == {"n": 42, "f": 1.5, "b": True}
    bad = r.parse("4x2 1.5 maybe")
    assert bad == {"n": "4x2", "f": 1.5, "b": "maybe", "tags": ["type_conversion_failure"]}
    assert r.field_errors == {"type_conversion_failure": 2}  # counted per field that failed


def test_types_accept_the_type_names_grok_accepts() -> None:
    r = rule(
        regex=r"(?P<n>\S+) (?P<l>\S+) (?P<d>\S+) (?P<b>\S+) (?P<k>\S+)",
        types={"n": "integer", "l": "long", "d": "double", "b": "boolean", "k": "keyword"},
    )
    assert both(r, "42 7 1.5 true 9") == {"n": 42, "l": 7, "d": 1.5, "b": True, "k": "9"}
    settings = RuleSettings.model_validate(
        {"name": "r", "regex": "(?P<n>x)", "types": {"n": "long"}}
    )
    assert settings.types == {"n": "int"}


def test_grok_types_and_rule_types_together() -> None:
    r = rule(grok="%{INT:a:int} %{WORD:b}", types={"b": "string"})
    assert both(r, "7 x") == {"a": 7, "b": "x"}


def test_timestamp_field_becomes_at_timestamp_and_a_bad_one_stays_tagged() -> None:
    r = rule(
        regex=r"\[(?P<t>[^\]]+)\] (?P<message>.*)",
        timestamp={"field": "t", "format": ["%d/%b/%Y:%H:%M:%S %z", "ISO8601"], "timezone": "UTC"},
    )
    assert both(r, "[24/Nov/2025:16:00:00 +0100] hi") == {
        "@timestamp": "2025-11-24T15:00:00.000Z",
        "message": "hi",
    }
    assert r.parse("[yesterday] hi") == {
        "t": "yesterday",
        "message": "hi",
        "tags": ["timestamp_parse_failure"],
    }


def test_rule_timezone_falls_back_to_the_section_default() -> None:
    settings = RuleSettings.model_validate(
        {"name": "r", "regex": r"(?P<t>.+)", "timestamp": {"field": "t", "format": "ISO8601"}}
    )
    berlin = compile_rule(settings, LIBRARY, "Europe/Berlin")
    assert berlin.parse("2026-01-15 12:00:00") == {"@timestamp": "2026-01-15T11:00:00.000Z"}


def test_level_is_normalised_implicitly_or_by_setting_with_a_mapping() -> None:
    assert both(rule(regex=r"(?P<level>\w+) (?P<message>.*)"), "ERR boom") == {
        "log": {"level": "error"},
        "message": "boom",
    }
    r = rule(
        regex=r"(?P<sev>\w) (?P<msg>.*)",
        level={"field": "sev", "mapping": {"S": "fatal"}},
        message="msg",
    )
    assert both(r, "S down") == {"log": {"level": "fatal"}, "message": "down"}
    assert both(r, "W slow") == {"log": {"level": "warn"}, "message": "slow"}


def test_syslog_priority_gives_level_facility_and_severity() -> None:
    r = rule(
        grok="<%{NONNEGINT:log.syslog.priority:int}>%{GREEDYDATA:message}",
        level={"field": "log.syslog.priority", "syslog_priority": True},
    )
    assert both(r, "<34>su failed") == {
        "log": {
            "level": "fatal",
            "syslog": {
                "priority": 34,
                "facility": {"code": 4},
                "severity": {"code": 2, "name": "critical"},
            },
        },
        "message": "su failed",
    }


def test_add_rename_remove_copy_map_values_and_tags() -> None:
    r = rule(
        regex=r"(?P<client>\S+) (?P<word>\w+) (?P<junk>\S+) (?P<n>\d+)",
        rename={"client": "source.ip"},
        remove=["junk"],
        copy={"client": "source.address"},
        map_values={"word": {"ok": "success", "ko": "failure"}},
        add={"event.dataset": "app", "labels.list": ["a", "b"]},
        types={"n": "int"},
        tags=["app"],
    )
    record = both(r, "10.0.0.1 ok x 5")
    assert record == {
        "source": {"ip": "10.0.0.1", "address": "10.0.0.1"},
        "word": "success",
        "n": 5,
        "event": {"dataset": "app"},
        "labels": {"list": ["a", "b"]},
        "tags": ["app"],
    }
    again = r.parse("10.0.0.1 other x 5")
    assert again is not None
    assert again["word"] == "other"
    assert again["labels"]["list"] is not record["labels"]["list"]  # never shared between records


def test_optional_groups_leave_no_empty_objects() -> None:
    r = rule(regex=r"(?P<a.x>\d)(?: (?P<b.y>\w+))?(?: (?P<b.z>\w+))?")
    assert both(r, "1") == {"a": {"x": "1"}}
    assert both(r, "1 q") == {"a": {"x": "1"}, "b": {"y": "q"}}


def test_first_participating_group_wins_for_a_field_captured_twice() -> None:
    r = rule(regex=r"(?:(?P<v>\d+)|(?P<v>[a-z]+))!")
    assert both(r, "12!") == {"v": "12"}
    assert both(r, "ab!") == {"v": "ab"}


def test_a_line_the_pattern_does_not_match_is_none() -> None:
    assert rule(regex=r"(?P<a>\d+)$").parse("abc") is None


@pytest.mark.parametrize(
    ("settings", "key", "message"),
    [
        (
            {"regex": "(?P<a>x"},
            "regex",
            r"does not compile at position 7: missing \): \(\?P<a>x<HERE>",
        ),
        ({"grok": "%{NOPE:x}"}, "grok", "unknown grok pattern 'NOPE' at position 0"),
        ({"grok": "%{INT:x} (y"}, "grok", r"does not compile \(missing \)\) at position 11"),
        (
            {"regex": "(?P<a>x) [yz(?P<b>.*)"},
            "regex",
            r"does not compile at position 9: unterminated character set: \(\?P<a>x\) <HERE>\[yz",
        ),
        (
            {"grok": "%{INT:x} [yz%{GREEDYDATA:y}"},
            "grok",
            r"does not compile \(unterminated character set\) at position 9: %\{INT:x\} <HERE>\[yz",
        ),
        (
            {"regex": "(?P<a>x)", "types": {"b": "int"}},
            "types",
            "names field 'b', which the regex does not capture",
        ),
        ({"regex": "(?P<a>x)", "timestamp": {"field": "t"}}, "timestamp.field", "names field 't'"),
        ({"regex": "(?P<a>x)", "level": "lvl"}, "level.field", "names field 'lvl'"),
        ({"regex": "(?P<a>x)", "message": "msg"}, "message", "names field 'msg'"),
        ({"regex": "(?P<a>x)", "rename": {"b": "c"}}, "rename", "names field 'b'"),
        ({"regex": "(?P<a>x)", "remove": ["b"]}, "remove", "names field 'b'"),
        ({"regex": "(?P<a>x)(?P<b>y)", "rename": {"a": "b"}}, "rename", "would overwrite"),
        ({"regex": "(?P<a>x)", "add": {"a": 1}}, "add", "also captured"),
        ({"regex": "(?P<a>x)", "add": {"host.name": "x"}}, "add", "cannot be set by a rule"),
        ({"regex": "(?P<log.file.path>x)"}, "regex", "cannot be set by a rule"),
        ({"regex": "(?P<a>x)(?P<a.b>y)"}, "regex", "captures 'a' as a value and 'a.b' below it"),
        (
            {"regex": "(?P<t>x)", "types": {"t": "int"}, "timestamp": {"field": "t"}},
            "types",
            "timestamp field",
        ),
        (
            {"regex": "(?P<t>x)", "timestamp": {"field": ["t", "u"]}},
            "timestamp.field",
            "names one field",
        ),
    ],
)
def test_load_time_errors_name_the_setting(
    settings: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(RuleError, match=message) as err:
        rule(**settings)
    assert err.value.key == key


def test_settings_need_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        RuleSettings.model_validate({"name": "r"})
    with pytest.raises(ValueError, match="exactly one of"):
        RuleSettings.model_validate({"name": "r", "regex": "x", "grok": "y"})
    with pytest.raises(ValueError, match="a json rule takes no regex"):
        RuleSettings.model_validate({"name": "r", "type": "json", "regex": "x"})


OPTIONAL = rule(
    regex=r"^(?P<a>\w+)(?: n=(?P<n>-?\d+))?(?: f=(?P<f>\S+))?(?: t=(?P<t>\S+))?(?: (?P<x.y>\w+)(?: (?P<x.z>\w+))?)?(?: (?P<level>[A-Z]+))?",
    types={"n": "int", "f": "float"},
    timestamp={"field": "t", "format": "ISO8601"},
    copy={"a": "b.c"},
    add={"k": "v"},
    tags=["t1"],
)


@settings(max_examples=300, deadline=None)
@given(
    a=st.from_regex(r"\w{1,5}", fullmatch=True),
    n=st.one_of(st.none(), st.integers(-99, 99).map(str), st.just("1x")),
    f=st.one_of(
        st.none(), st.floats(allow_nan=False, allow_infinity=False).map(str), st.just("nope")
    ),
    t=st.one_of(st.none(), st.just("2026-01-01T00:00:00Z"), st.just("2026-13-01T00:00:00Z")),
    words=st.lists(st.from_regex(r"[a-z]{1,4}", fullmatch=True), max_size=2),
    level=st.one_of(st.none(), st.sampled_from(["ERROR", "W", "NOTICE", "ODD"])),
)
def test_generated_builder_and_generic_path_agree(
    a: str, n: str | None, f: str | None, t: str | None, words: list[str], level: str | None
) -> None:
    line = a
    for key, value in (("n", n), ("f", f), ("t", t)):
        if value is not None:
            line += f" {key}={value}"
    if words:
        line += " " + " ".join(words)
    if level:
        line += f" {level}"
    assert OPTIONAL.parse(line) == OPTIONAL.parse_generic(line)
