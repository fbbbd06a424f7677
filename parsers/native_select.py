"""The compiled selection: a Selection's conditions decided inside the compiled scanner.

With alert rules, the fast path checks every record against their conditions. The Python loop
does it on a dict per record (`parsers.selection`); for a rule the compiled scanner runs
(`parsers.native_chunk`), this module turns the conditions into a `_fastscan.Selector` so that
C decides them on the line's groups, as it writes the record, and counts what they select per
(condition, `keys` values, `@timestamp` text) instead of building records:

- each condition is a boolean tree over *leaves*, a leaf being one field's operators
  (`{field: status, gte: 500, lt: 600}`), one bit each (64 at most);
- an integer field's numeric leaves (`equals`, `in`, `gt`, ..., `exists`) are compared in C,
  and so are a text field's `equals` and `in` (its bytes with each accepted text);
- every other leaf is answered per distinct value of its field by a bounded memo that Python
  fills: `learn` runs the leaf's own code (`parsers.condition.ConditionCode`, the one
  implementation of the condition language) on the value as the record holds it;
- the leaf bits become condition bits through a second memo, filled by `combine`.

So C gives the answers Python gives, by construction. Outside what it can do (a condition or
key on a field that is not a plain group value of the record: `message`, `log.level`, a
constant, a nested object; more than 64 leaves or conditions), the Python selecting loop stays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from parsers.condition import ConditionCode, ConditionSettings, accepted_forms
from parsers.record_template import P_INT, P_STR, P_TIME, P_TS
from parsers.selection import Selection

T_GT, T_GTE, T_LT, T_LTE, T_EQ, T_NEVER, T_TEXT = range(7)
_BOUNDS = {"gt": T_GT, "gte": T_GTE, "lt": T_LT, "lte": T_LTE}
_NUMERIC = frozenset({"equals", "in_", "gt", "gte", "lt", "lte", "exists"})
_TEXT = frozenset({"equals", "in_", "exists"})
_MAX_BITS = 64

Slots = Mapping[str, tuple[int, int]]
"""Dotted field name -> (kind, group): `parsers.record_template.Template.fields`."""


def _leaves(condition: ConditionSettings, found: list[ConditionSettings]) -> None:
    """Every leaf of a condition's tree, in order (a leaf appears once per place it is used)."""
    if condition.field is not None:
        found.append(condition)
        return
    for part in (*(condition.all or ()), *(condition.any or ())):
        _leaves(part, found)
    if condition.not_ is not None:
        _leaves(condition.not_, found)


def _tree(condition: ConditionSettings, bits: dict[int, int]) -> str:
    """The condition as an expression over the leaf bits in `m`."""
    if condition.field is not None:
        return f"(m >> {bits[id(condition)]} & 1)"
    if condition.all is not None:
        return "(" + " and ".join(_tree(c, bits) for c in condition.all) + ")"
    if condition.any is not None:
        return "(" + " or ".join(_tree(c, bits) for c in condition.any) + ")"
    assert condition.not_ is not None
    return f"(not {_tree(condition.not_, bits)})"


Test = tuple[int, int, tuple[float | bytes, ...]]


def _direct_tests(leaf: ConditionSettings, bit: int, is_int: bool) -> list[Test]:
    """The C tests of a leaf C decides alone (all must hold): numbers of an integer field,
    the accepted texts of a text field."""
    tests: list[Test] = []
    for name in leaf.operators():
        if name == "exists":
            if not leaf.exists:  # a group value is always there
                tests.append((1 << bit, T_NEVER, ()))
        elif name in _BOUNDS:
            tests.append((1 << bit, _BOUNDS[name], (float(getattr(leaf, name)),)))
        else:
            values = list(leaf.in_ or ()) if name == "in_" else [leaf.equals]
            forms = frozenset().union(*(accepted_forms(v) for v in values if v is not None))
            if is_int:  # an int equals the int and float forms (never a text or a bool's)
                numbers = tuple(float(f) for f in forms if f.__class__ in (int, float))
                tests.append((1 << bit, T_EQ, numbers))
            else:  # a text equals the text forms (an ASCII line holds ASCII texts only)
                texts = tuple(f.encode() for f in forms if f.__class__ is str and f.isascii())
                tests.append((1 << bit, T_TEXT, texts))
    return tests


def _learner(field: str, leaves: list[tuple[int, ConditionSettings]], is_int: bool) -> Any:
    """bytes -> the bits of the field's leaves that hold for that value (as the record holds
    it: an `int` for an integer slot, else the text)."""
    code = ConditionCode()
    var = code.field(field)
    source = [f"def leaves({var}):", "    bits = 0"]
    for bit, leaf in leaves:
        source += [f"    if {code.expression(leaf)}:", f"        bits |= {1 << bit}"]
    source.append("    return bits")
    env = dict(code.env)
    exec(compile("\n".join(source), f"<leaves of {field}>", "exec"), env)  # noqa: S102 - our own generated code
    leaves_of: Callable[[Any], int] = env["leaves"]

    def learn(raw: bytes) -> int:
        return leaves_of(int(raw) if is_int else raw.decode("ascii"))

    return learn


def selector_spec(selection: Selection, slots: Slots) -> tuple[Any, ...] | None:
    """The arguments of `_fastscan.Selector` for `selection` over a record whose values sit in
    `slots`; None when some condition or key is outside what C can decide (see the module)."""
    conditions = selection.conditions
    stamp = slots.get("@timestamp")
    if not conditions or len(conditions) > _MAX_BITS or stamp is None:
        return None
    if stamp[0] not in (P_TS, P_TIME):
        return None
    leaves: list[ConditionSettings] = []
    for condition in conditions:
        _leaves(condition, leaves)
    if len(leaves) > _MAX_BITS:
        return None
    plain = {name: where for name, where in slots.items() if where[0] in (P_STR, P_INT)}
    if any(leaf.field not in plain for leaf in leaves):
        return None
    keys = []
    for names in selection.keys:
        if any(name not in plain for name in names):
            return None
        keys.append(tuple((plain[n][1], int(plain[n][0] == P_INT)) for n in names))
    bits = {id(leaf): bit for bit, leaf in enumerate(leaves)}
    by_field: dict[str, list[tuple[int, ConditionSettings]]] = {}
    for bit, leaf in enumerate(leaves):
        assert leaf.field is not None
        by_field.setdefault(leaf.field, []).append((bit, leaf))
    fields = []
    for name, mine in by_field.items():
        kind, group = plain[name]
        is_int = kind == P_INT
        direct = 0
        tests: list[Test] = []
        for bit, leaf in mine:
            if set(leaf.operators()) <= (_NUMERIC if is_int else _TEXT):
                direct |= 1 << bit
                tests += _direct_tests(leaf, bit, is_int)
        every = sum(1 << bit for bit, _ in mine)
        fields.append(
            (group, int(is_int), every, direct, tuple(tests), _learner(name, mine, is_int))
        )
    source = ["def combine(m):", "    bits = 0"]
    for index, condition in enumerate(conditions):
        source += [f"    if {_tree(condition, bits)}:", f"        bits |= {1 << index}"]
    source.append("    return bits")
    env: dict[str, Any] = {}
    exec(compile("\n".join(source), "<conditions of leaves>", "exec"), env)  # noqa: S102 - our own generated code
    ts_group = stamp[1] if stamp[0] == P_TS else 0
    return tuple(fields), env["combine"], tuple(keys), ts_group
