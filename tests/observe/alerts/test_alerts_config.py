"""The `alerts:` config: bad settings are errors naming the key; and the condition code generator
that alert rules share with drop_if agrees with the condition semantics on any value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from logship.app.config_file import ConfigError, parse_config
from parsers.condition import (
    ConditionSettings,
    _compare,
    _is_one_of,
    _matches,
    accepted_forms,
    compile_condition,
)

NGINX_LIKE = {
    "name": "web",
    "regex": r"^(?P<source.ip>\S+) (?P<status>\d+) (?P<ok>true|false) (?P<service.name>\S+)$",
    "types": {"status": "int", "ok": "bool"},
}


def doc(alerts: dict[str, Any], parsers: list[dict[str, Any]] | None = None) -> str:
    return yaml.safe_dump(
        {
            "inputs": [
                {"name": "web", "paths": ["/tmp/none/*.log"], "parsers": ["web"]},
                {"name": "api", "paths": ["/tmp/none/*.json"], "parsers": ["json"]},
            ],
            "parsers": parsers if parsers is not None else [NGINX_LIKE],
            "sinks": [{"name": "out", "type": "file", "path": "/tmp/none/out.ndjson"}],
            "alerts": alerts,
        }
    )


def rule(**options: Any) -> dict[str, Any]:
    return {"name": "r1", "inputs": ["web"], "when": {"field": "status", "gte": 500}, **options}


def load(alerts: dict[str, Any], tmp_path: Path) -> Any:
    return parse_config(doc(alerts), "agent.yaml", tmp_path, environ={"HOOK": "http://h/x"})


def problems(alerts: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(alerts, tmp_path)
    return str(caught.value)


def test_a_good_section_loads(tmp_path: Path) -> None:
    config = load(
        {
            "destinations": [{"name": "hook", "url": "${HOOK}", "preset": "alertmanager"}],
            "rules": [
                rule(
                    threshold="count > 19 within 1m",
                    group_by=["service.name", "source.ip"],
                    message="{service.name}: {count} in {window} ({status}, {host.name})",
                ),
                rule(name="r2", inputs=["api"], when={"field": "anything.at.all", "exists": True}),
            ],
        },
        tmp_path,
    )
    first = config.alerts.rules[0]
    assert (first.threshold.count, first.threshold.within) == (20, 60.0)
    assert config.alerts.destinations[0].encoding == "json_array"
    assert config.alerts.destinations[0].url == "http://h/x"


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        (
            {"rules": [rule(when={"field": "ok", "gt": 1})]},
            "alerts.rules[0].when.gt (r1): `gt` compares numbers, but the parser rules "
            "convert 'ok' to bool",
        ),
        (
            {"rules": [rule(when={"field": "status", "gt": "many"})]},
            "alerts.rules[0].when.gt (r1): expected a number",
        ),
        (
            {"destinations": [{"name": "d", "url": "http://h/", "preset": "pagerduty"}]},
            "alerts.destinations[0].preset (d): expected one of: 'webhook', 'slack' or 'alertmanager'",
        ),
        (
            {"rules": [rule(when={"field": "message", "matches": "(unclosed"})]},
            "alerts.rules[0].when.matches (r1): regex '(unclosed' does not compile",
        ),
        (
            {"rules": [rule(message="{servce.name}: {count} errors")]},
            "alerts.rules[0].message (r1): field 'servce.name' can never exist in records of "
            "input 'web': no parser rule of it produces it (did you mean 'service.name'?",
        ),
        (
            {"rules": [rule(group_by=["http.status"])]},
            "alerts.rules[0].group_by[0] (r1): field 'http.status' can never exist",
        ),
        (
            {"rules": [rule(when={"all": [{"field": "level", "equals": "error"}]})]},
            "alerts.rules[0].when.all[0].field (r1): field 'level' can never exist",
        ),
        (
            {"rules": [rule(message="{count")]},
            "alerts.rules[0].message (r1): unexpected '{' at position 0",
        ),
        ({"rules": [rule(inputs=["wbe"])]}, "alerts.rules[0].inputs[0] (r1): unknown input 'wbe'"),
        (
            {"rules": [rule(destinations=["pager"])]},
            "alerts.rules[0].destinations[0] (r1): unknown destination 'pager'",
        ),
        (
            {"rules": [rule(threshold="more than 20 per minute")]},
            "alerts.rules[0].threshold (r1): expected `count >= N within DURATION`",
        ),
        (
            {"rules": [rule(threshold={"count": 100_000, "within": "1m"})]},
            "alerts.rules[0].threshold.count (r1): expected a value less than or equal to 10000",
        ),
        ({"rules": [rule(), rule()]}, "alerts.rules[1].name: 'r1' is used twice"),
        (
            {"destinations": [{"name": "out", "url": "http://h/"}]},
            "alerts.destinations[0].name: 'out' is also a sink's name",
        ),
        (
            {"destinations": [{"name": "d", "url": "http://h/", "encoding": "ndjson"}]},
            "encoding: the preset decides the body",
        ),
        ({"rules": [rule(colour="red")]}, "alerts.rules[0].colour (r1): unknown key"),
    ],
)
def test_bad_alert_config_names_the_key(
    tmp_path: Path, alerts: dict[str, Any], message: str
) -> None:
    assert message in problems(alerts, tmp_path)


def test_fields_of_json_inputs_and_agent_fields_are_always_possible(tmp_path: Path) -> None:
    load(
        {
            "rules": [
                rule(inputs=["api"], group_by=["user.id"], message="{whatever}"),
                rule(name="r2", message="{host.name} {log.file.path} {@timestamp} {tags}"),
            ]
        },
        tmp_path,
    )


# --- the condition code generator against the semantics it must keep -------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "200", "abc", "1e3", "true", "GET", " 5"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=2), st.dictionaries(st.just("k"), SCALARS))
OPERATORS = st.one_of(
    st.builds(
        lambda v: {"equals": v},
        st.one_of(st.booleans(), st.integers(-5, 500), st.sampled_from(["200", "abc", "true"])),
    ),
    st.builds(
        lambda v: {"in": v},
        st.lists(
            st.one_of(st.integers(-5, 500), st.sampled_from(["GET", "1.5"])), min_size=1, max_size=3
        ),
    ),
    st.builds(lambda v: {"matches": v}, st.sampled_from(["^2", "a", "^$", r"\d"])),
    st.builds(
        lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte"]), st.floats(-100, 1000)
    ),
    st.builds(lambda v: {"exists": v}, st.booleans()),
)

_ABSENT = object()


def reference(condition: dict[str, Any], record: dict[str, Any]) -> bool:
    """The condition semantics written out plainly with the module's helper functions."""
    value = record.get("a", {}).get("b", _ABSENT) if isinstance(record.get("a"), dict) else _ABSENT
    (op, bound), *_ = condition.items()
    if op == "exists":
        return (value is not _ABSENT) is bound
    if value is _ABSENT:
        return False
    if op == "equals":
        return _is_one_of(value, accepted_forms(bound))
    if op == "in":
        return _is_one_of(value, frozenset().union(*(accepted_forms(v) for v in bound)))
    if op == "matches":
        import re

        return _matches(re.compile(bound).search, value)
    compare = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__, "lte": float.__le__}
    return _compare(compare[op], value, float(bound))


@given(operator=OPERATORS, value=VALUES, nested=st.booleans())
def test_generated_conditions_agree_with_the_semantics(
    operator: dict[str, Any], value: Any, nested: bool
) -> None:
    condition = {"field": "a.b", **operator}
    record = {"a": {"b": value}} if nested else {}
    predicate = compile_condition(ConditionSettings.model_validate(condition))
    assert predicate(record) is reference(operator, record)
    flat = {"a.b": value} if nested else {}  # a literal dotted key is found too
    assert predicate(flat) is reference(operator, {"a": {"b": value}} if nested else {})
