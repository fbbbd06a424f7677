"""The condition language (drop_if, later alert rules): operators, combinators, load-time errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from parsers.condition import ConditionSettings, compile_condition

RECORD: dict[str, Any] = {
    "message": "GET /health 200",
    "http": {"request": {"method": "HEAD"}, "response": {"status_code": 200}},
    "url": {"original": "/healthz"},
    "event": {"duration": "1500"},
    "user": {"name": None},
    "labels.team": "web",
    "tags": ["a"],
}


def holds(condition: dict[str, Any], record: dict[str, Any] | None = None) -> bool:
    return compile_condition(ConditionSettings.model_validate(condition))(record or RECORD)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "http.request.method", "equals": "HEAD"}, True),
        ({"field": "http.request.method", "equals": "GET"}, False),
        ({"field": "http.response.status_code", "equals": 200}, True),
        ({"field": "http.response.status_code", "equals": "200"}, True),
        ({"field": "http.response.status_code", "in": [200, 204, 304]}, True),
        ({"field": "http.response.status_code", "in": ["500", "502"]}, False),
        ({"field": "url.original", "matches": "^/health"}, True),
        ({"field": "url.original", "matches": "^/api"}, False),
        ({"field": "http.response.status_code", "matches": "^2"}, True),
        ({"field": "event.duration", "gt": 1000}, True),
        ({"field": "event.duration", "lte": 1000}, False),
        ({"field": "http.response.status_code", "gte": 200, "lt": 300}, True),
        ({"field": "http.response.status_code", "gte": 500, "lt": 600}, False),
        ({"field": "message", "gt": 1}, False),
        ({"field": "user.name", "exists": True}, True),
        ({"field": "user.email", "exists": False}, True),
        ({"field": "labels.team", "equals": "web"}, True),
        ({"field": "tags", "equals": "a"}, False),
        ({"field": "missing.field", "equals": "x"}, False),
        ({"field": "missing.field", "matches": "."}, False),
        ({"field": "missing.field", "lt": 10}, False),
    ],
)
def test_operators(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_all_any_not_combine() -> None:
    head = {"field": "http.request.method", "equals": "HEAD"}
    get = {"field": "http.request.method", "equals": "GET"}
    assert holds({"all": [head, {"field": "url.original", "matches": "health"}]})
    assert not holds({"all": [head, get]})
    assert holds({"any": [get, head]})
    assert not holds({"any": [get]})
    assert holds({"not": get})
    assert holds({"not": {"any": [get, {"not": head}]}})


def test_booleans_equal_booleans_and_their_text_not_numbers() -> None:
    assert holds({"field": "ok", "equals": True}, {"ok": True})
    assert holds({"field": "ok", "equals": True}, {"ok": "true"})
    assert not holds({"field": "ok", "equals": True}, {"ok": 1})
    assert not holds({"field": "n", "equals": 1}, {"n": True})


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "a"}, "has no operator"),
        ({"equals": 1}, "expected {field: NAME"),
        ({"field": "a", "equals": 1, "any": [{"field": "b", "exists": True}]}, "mixes them"),
        ({"all": []}, "at least one condition"),
        ({"field": "a", "matches": "(x"}, "does not compile"),
        ({"field": "a", "eq": 1}, "Extra inputs"),
    ],
)
def test_bad_conditions_are_refused_at_load_time(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("{", r"\{")):
        ConditionSettings.model_validate(condition)
