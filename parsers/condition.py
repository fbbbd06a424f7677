"""Conditions over records: `drop_if` in parser rules and `when` in alert rules.

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

from logship.core.record import LogEntry
from logship.core.schema import StrictModel
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


class ConditionCode:
    """Conditions as Python source sharing one loop body: field reads once, tests inlined.

    The one implementation of the condition language's semantics. `compile_condition` turns a
    single condition into a function; alert rules (`logship.observe.alerts`) put the tests of several
    conditions into one generated loop over a chunk of records, where each field that several
    conditions read is looked up once per record. Per record, the common cases (a str or int
    compared with constants) run as inline expressions; the rest goes through the helper
    functions below, which also define what the inline forms must agree with.

    Usage: `expression(settings)` returns the source of a boolean expression over locals that
    `reads()` assigns from a record named `entry`; `env` holds the constants both refer to.
    """

    def __init__(self, entry: str = "entry") -> None:
        self.entry = entry
        self.env: dict[str, Any] = {
            "MISSING": _MISSING,
            "is_one_of": _is_one_of,
            "matches": _matches,
            "compare": _compare,
        }
        self._fields: dict[str, str] = {}
        self._consts = 0

    def field(self, dotted: str) -> str:
        """The local holding the value at `dotted` (MISSING when absent), read once per record."""
        var = self._fields.get(dotted)
        if var is None:
            var = self._fields[dotted] = f"f{len(self._fields)}"
        return var

    def const(self, value: Any) -> str:
        """A name for a constant in `env`."""
        name = f"c{self._consts}"
        self._consts += 1
        self.env[name] = value
        return name

    def reads(self, indent: str) -> list[str]:
        """Statements assigning every field local (`field` semantics of `get_field`, nested first,
        then a literal dotted key).

        Records usually hold every field read: subscripts first (cheaper than `.get` calls),
        and only when one is missing (or a path crosses a non-object) the careful reads."""
        if not self._fields:
            return []
        entry = self.entry
        fast = []
        slow = []
        inner = indent + "    "
        for dotted, var in self._fields.items():
            parts = dotted.split(".")
            fast.append(f"{inner}{var} = {entry}" + "".join(f"[{p!r}]" for p in parts))
            slow.append(f"{inner}{var} = {entry}.get({parts[0]!r}, MISSING)")
            for part in parts[1:]:
                slow.append(
                    f"{inner}{var} = {var}.get({part!r}, MISSING) "
                    f"if {var}.__class__ is dict else MISSING"
                )
            if len(parts) > 1:
                slow.append(f"{inner}if {var} is MISSING:")
                slow.append(f"{inner}    {var} = {entry}.get({dotted!r}, MISSING)")
        return [f"{indent}try:", *fast, f"{indent}except (KeyError, TypeError):", *slow]

    def expression(self, settings: ConditionSettings) -> str:
        """The condition as a boolean expression over the field locals."""
        if settings.all is not None:
            return "(" + " and ".join(self.expression(c) for c in settings.all) + ")"
        if settings.any is not None:
            return "(" + " or ".join(self.expression(c) for c in settings.any) + ")"
        if settings.not_ is not None:
            return f"(not {self.expression(settings.not_)})"
        assert settings.field is not None
        var = self.field(settings.field)
        tests = [self._operator(settings, name, var) for name in settings.operators()]
        return tests[0] if len(tests) == 1 else "(" + " and ".join(tests) + ")"

    def _operator(self, settings: ConditionSettings, name: str, v: str) -> str:
        if name == "exists":
            return f"({v} is not MISSING)" if settings.exists else f"({v} is MISSING)"
        if name in ("equals", "in_"):
            if name == "equals":
                assert settings.equals is not None
                accepted = accepted_forms(settings.equals)
            else:
                assert settings.in_ is not None
                accepted = frozenset().union(*(accepted_forms(x) for x in settings.in_))
            a = self.const(accepted)
            (only,) = accepted if len(accepted) == 1 else (None,)
            if only.__class__ is str:
                # One text that is no number (`equals: DELETE`): no int equals it, and comparing
                # strings spares hashing the record's value (a fresh string per record).
                return (
                    f"(({v} == {self.const(only)}) if ({v}.__class__ is str or "
                    f"{v}.__class__ is int) else is_one_of({v}, {a}))"
                )
            # str and int (not bool: its class is bool) hash like the accepted forms.
            return (
                f"(({v} in {a}) if ({v}.__class__ is str or {v}.__class__ is int) "
                f"else is_one_of({v}, {a}))"
            )
        if name == "matches":
            assert settings.matches is not None
            search = compile_pattern(settings.matches).search
            s = self.const(search)
            memo: dict[str, bool] = {}
            m = self.const(memo)
            learn = self.const(_learner(search, memo))
            # Values repeat (user agents, paths, levels): a search per distinct short string.
            return (
                f"((_r if (_r := {m}.get({v})) is not None else {learn}({v})) "
                f"if {v}.__class__ is str else matches({s}, {v}))"
            )
        bound = float(getattr(settings, name))
        b = self.const(bound)
        op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[name]
        fn = self.const(_COMPARE[name])
        return (
            f"(({v} {op} {b}) if ({v}.__class__ is int or {v}.__class__ is float) "
            f"else compare({fn}, {v}, {b}))"
        )


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": float.__gt__,
    "gte": float.__ge__,
    "lt": float.__lt__,
    "lte": float.__le__,
}


_MEMO_ENTRIES = 4096
_MEMO_MAX_CHARS = 256


def _learner(search: Callable[[str], Any], memo: dict[str, bool]) -> Callable[[str], bool]:
    """Searches a string and remembers the answer (short strings; the memo is bounded)."""

    def learn(value: str) -> bool:
        found = search(value) is not None
        if len(value) <= _MEMO_MAX_CHARS:
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            memo[value] = found
        return found

    return learn


def compile_condition(settings: ConditionSettings) -> Predicate:
    """The condition as a function of a record (generated once; no parsing per call)."""
    code = ConditionCode()
    test = code.expression(settings)
    source = "\n".join(["def holds(entry):", *code.reads("    "), f"    return {test}"])
    env = dict(code.env)
    exec(compile(source, "<condition>", "exec"), env)  # noqa: S102 - our own generated code
    predicate: Predicate = env["holds"]
    return predicate


def accepted_forms(value: Scalar) -> frozenset[Any]:
    """The values a record may hold to equal `value`: itself, and number <-> text forms
    (a bool as `("bool", value)` and its text)."""
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
