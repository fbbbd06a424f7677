"""Conditions over records: `drop_if` in parser rules (and, later, alert rules).

A condition is written in YAML as one of:

    {field: http.request.method, equals: HEAD}
    {field: http.response.status_code, in: [200, 204, 304]}
    {field: url.original, matches: '^/(health|ready)'}     # regex search
    {field: event.duration, gt: 1000}                       # also gte, lt, lte: numbers
    {field: user.name, exists: true}
    {all: [cond, ...]}  {any: [cond, ...]}  {not: cond}

Several operators on one field must all hold (`{field: status, gte: 500, lt: 600}`). Fields are
dotted paths into the record (`get_field` semantics: nested objects or literal dotted keys). A
missing field satisfies no operator except `exists: false`. `equals` / `in` compare numbers and
their text alike (`200` equals `"200"`); `gt` and friends convert text to numbers and are false
when that fails. `matches` searches string values (numbers as their text).

`compile_condition` turns the settings into a plain function `record -> bool`, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from logship.record import LogEntry
from logship.schema import StrictModel
from parsers.pattern import PatternError, compile_pattern

Scalar = str | int | float | bool
Predicate = Callable[[LogEntry], bool]

_MISSING: Any = object()


class ConditionSettings(StrictModel):
    """One condition (see the module docstring for the forms)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    all: list[ConditionSettings] | None = Field(
        None, json_schema_extra={"expected": "a list of conditions"}
    )
    any: list[ConditionSettings] | None = Field(
        None, json_schema_extra={"expected": "a list of conditions"}
    )
    not_: ConditionSettings | None = Field(None, alias="not")
    field: str | None = Field(None, min_length=1)
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in")
    matches: str | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None

    @field_validator("matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value)
            except PatternError as exc:
                raise ValueError(f"regex {value!r} {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_form(self) -> ConditionSettings:
        combinators = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        operators = self.operators()
        if len(combinators) > 1 or (combinators and (self.field is not None or operators)):
            raise ValueError(
                "a condition is either {all: [...]}, {any: [...]}, {not: ...} "
                "or {field: NAME, <operator>: VALUE}; this one mixes them"
            )
        if combinators:
            for key in ("all", "any"):
                value = getattr(self, key)
                if value is not None and not value:
                    raise ValueError(f"{key}: expected at least one condition")
            return self
        if self.field is None:
            raise ValueError(
                "expected {field: NAME, <operator>: VALUE} (operators: equals, in, matches, "
                "gt, gte, lt, lte, exists) or {all: [...]}, {any: [...]}, {not: ...}"
            )
        if not operators:
            raise ValueError(
                f"field {self.field!r} has no operator; add one of: equals, in, matches, "
                "gt, gte, lt, lte, exists"
            )
        return self

    def operators(self) -> list[str]:
        """The operators this condition sets, by name."""
        return [
            name
            for name in ("equals", "in_", "matches", "gt", "gte", "lt", "lte", "exists")
            if getattr(self, name) is not None
        ]


def compile_condition(settings: ConditionSettings) -> Predicate:
    """The condition as a function of a record (compiled once; no parsing per call)."""
    if settings.all is not None:
        parts = tuple(compile_condition(c) for c in settings.all)
        return lambda entry: all(p(entry) for p in parts)
    if settings.any is not None:
        parts = tuple(compile_condition(c) for c in settings.any)
        return lambda entry: any(p(entry) for p in parts)
    if settings.not_ is not None:
        inner = compile_condition(settings.not_)
        return lambda entry: not inner(entry)
    assert settings.field is not None
    lookup = field_getter(settings.field)
    checks = tuple(_operator(settings, name) for name in settings.operators())
    if len(checks) == 1:
        check = checks[0]
        return lambda entry: check(lookup(entry))
    return lambda entry: _all_hold(checks, lookup(entry))


def _all_hold(checks: tuple[Callable[[Any], bool], ...], value: Any) -> bool:
    return all(check(value) for check in checks)


def field_getter(dotted: str) -> Callable[[LogEntry], Any]:
    """A function returning the value at `dotted` in a record, or a sentinel when absent.

    The path is split once here; a literal dotted key (`{"a.b": 1}`) is found too.
    """
    parts = tuple(dotted.split("."))

    def get(entry: LogEntry) -> Any:
        node: Any = entry
        for part in parts:
            if not isinstance(node, dict):
                break
            node = node.get(part, _MISSING)
            if node is _MISSING:
                break
        else:
            return node
        return entry.get(dotted, _MISSING) if len(parts) > 1 else _MISSING

    return get


def _operator(settings: ConditionSettings, name: str) -> Callable[[Any], bool]:
    if name == "exists":
        wanted = bool(settings.exists)
        return lambda value: (value is not _MISSING) is wanted
    if name == "equals":
        assert settings.equals is not None
        accepted = _forms(settings.equals)
        return lambda value: _is_one_of(value, accepted)
    if name == "in_":
        assert settings.in_ is not None
        accepted = frozenset().union(*(_forms(v) for v in settings.in_))
        return lambda value: _is_one_of(value, accepted)
    if name == "matches":
        assert settings.matches is not None
        search = compile_pattern(settings.matches).search
        return lambda value: _matches(search, value)
    bound = getattr(settings, name)
    compare: Callable[[float, float], bool] = {
        "gt": float.__gt__,
        "gte": float.__ge__,
        "lt": float.__lt__,
        "lte": float.__le__,
    }[name]
    return lambda value: _compare(compare, value, bound)


def _forms(value: Scalar) -> frozenset[Any]:
    """The values a record may hold to equal `value`: itself, and number <-> text forms."""
    if isinstance(value, bool):
        return frozenset({("bool", value), str(value).lower()})
    if isinstance(value, int | float):
        forms: set[Any] = {value, str(value)}
        if isinstance(value, float) and value.is_integer():
            forms.add(str(int(value)))
        return frozenset(forms)
    forms = {value}
    try:
        number = float(value)
    except ValueError:
        return frozenset(forms)
    forms.add(number)  # 200.0 == 200 and hashes alike, so ints match too
    return frozenset(forms)


def _is_one_of(value: Any, accepted: frozenset[Any]) -> bool:
    if isinstance(value, bool):
        return ("bool", value) in accepted
    try:
        return value in accepted
    except TypeError:  # a dict or list: equal to no scalar
        return False


def _matches(search: Callable[[str], Any], value: Any) -> bool:
    if isinstance(value, str):
        return search(value) is not None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return search(str(value)) is not None
    return False


def _compare(compare: Callable[[float, float], bool], value: Any, bound: float) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return compare(float(value), bound)
    if isinstance(value, str):
        try:
            return compare(float(value), bound)
        except ValueError:
            return False
    return False
