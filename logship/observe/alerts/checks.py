"""Cross-checks of the `alerts:` section against the rest of the config (run when it loads).

Each problem names its key: unknown inputs or destinations, names used twice, destinations
named like a sink, and fields that can never exist in the records of the rule's inputs (in
`when`, `group_by`, `message`, `resolve_message`), or that the parser rules make a type a
comparison cannot use (`gt: 500` on a field converted to bool).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from logship.core.schema import check_unique_names
from logship.observe.alerts.fields import InputFields, input_fields
from logship.observe.alerts.settings import ALERT_VARIABLES, AlertRuleSettings, AlertsSettings
from logship.tail.settings import InputSettings
from parsers.condition import ConditionSettings
from parsers.section import ParsersSettings
from sinks.template import FieldTemplate

_NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte")


def alert_problems(
    alerts: AlertsSettings,
    sink_names: Sequence[str],
    inputs_list: Sequence[InputSettings],
    parsers: ParsersSettings,
) -> list[str]:
    """Every problem of the `alerts:` section, one line each, located by key; the config's
    sink names, inputs and parser rules are what it is checked against."""
    problems: list[str] = []
    check_unique_names(problems, "alerts.rules", [r.name for r in alerts.rules])
    check_unique_names(problems, "alerts.destinations", [d.name for d in alerts.destinations])
    for index, destination in enumerate(alerts.destinations):
        if destination.name in sink_names:
            problems.append(
                f"alerts.destinations[{index}].name: {destination.name!r} is also a sink's name; "
                f"names must be unique across sinks and alert destinations (metrics, dead letters)"
            )
    inputs = {i.name: i for i in inputs_list}
    destinations = [d.name for d in alerts.destinations]
    fields_of: dict[str, InputFields] = {}
    for index, rule in enumerate(alerts.rules):
        where = f"alerts.rules[{index}]"
        for j, name in enumerate(rule.inputs):
            if name not in inputs:
                problems.append(
                    f"{where}.inputs[{j}] ({rule.name}): unknown input {name!r}"
                    f"{_hint(name, list(inputs))} (defined: {', '.join(sorted(inputs))})"
                )
        for j, name in enumerate(rule.destinations):
            if name not in destinations:
                defined = ", ".join(destinations) or "none; add them under alerts.destinations"
                problems.append(
                    f"{where}.destinations[{j}] ({rule.name}): unknown destination {name!r}"
                    f"{_hint(name, destinations)} (defined: {defined})"
                )
        names = [n for n in (rule.inputs or list(inputs)) if n in inputs]
        views = []
        for name in names:
            if name not in fields_of:
                inp = inputs[name]
                fields_of[name] = input_fields(
                    inp.parsers, parsers, container=inp.container is not None
                )
            views.append((name, fields_of[name]))
        problems += _field_problems(where, rule, views)
    return problems


def _field_problems(
    where: str, rule: AlertRuleSettings, views: list[tuple[str, InputFields]]
) -> list[str]:
    problems: list[str] = []
    if not views:
        return problems
    uses: list[tuple[str, str]] = [
        (f"{where}.{key}", f) for key, f in _condition_fields(rule.when, "when")
    ]
    uses += [(f"{where}.group_by[{j}]", f) for j, f in enumerate(rule.group_by)]
    for key in ("message", "resolve_message"):
        for f in FieldTemplate(getattr(rule, key)).fields:
            if f not in ALERT_VARIABLES:
                uses.append((f"{where}.{key}", f))
    for key, dotted in uses:
        if any(view.possible(dotted) for _, view in views):
            continue
        inputs = ", ".join(repr(name) for name, _ in views)
        known = sorted(set().union(*(v.known for _, v in views)))
        close = difflib.get_close_matches(dotted, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            f"{key} ({rule.name}): field {dotted!r} can never exist in records of input "
            f"{inputs}: no parser rule of it produces it ({hint}fields: {', '.join(known)})"
        )
    for key, dotted, operator in _numeric_comparisons(rule.when, "when"):
        kinds = set().union(*(v.types.get(dotted, set()) for _, v in views))
        if kinds and kinds <= {"bool"}:
            problems.append(
                f"{where}.{key} ({rule.name}): `{operator}` compares numbers, but the parser "
                f"rules convert {dotted!r} to bool; use `equals: true` / `equals: false`"
            )
    return problems


def _condition_fields(condition: ConditionSettings, key: str) -> Iterator[tuple[str, str]]:
    """(key path, field) of every field a condition reads."""
    for combinator in ("all", "any"):
        parts = getattr(condition, combinator)
        if parts is not None:
            for i, part in enumerate(parts):
                yield from _condition_fields(part, f"{key}.{combinator}[{i}]")
    if condition.not_ is not None:
        yield from _condition_fields(condition.not_, f"{key}.not")
    if condition.field is not None and condition.exists is None:
        yield f"{key}.field", condition.field


def _numeric_comparisons(condition: ConditionSettings, key: str) -> Iterator[tuple[str, str, str]]:
    for combinator in ("all", "any"):
        parts = getattr(condition, combinator)
        if parts is not None:
            for i, part in enumerate(parts):
                yield from _numeric_comparisons(part, f"{key}.{combinator}[{i}]")
    if condition.not_ is not None:
        yield from _numeric_comparisons(condition.not_, f"{key}.not")
    if condition.field is not None:
        for operator in _NUMERIC_OPERATORS:
            if getattr(condition, operator) is not None:
                yield f"{key}.{operator}", condition.field, operator


def _hint(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
