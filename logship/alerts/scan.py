"""The per-chunk loop on the tailer thread: every rule's condition of one input, inlined.

Generated once per input from the rules that apply to it (like the derived metrics' loops):
the fields the conditions read are looked up once per record into locals, each condition is
one inline expression over them (`parsers.condition.ConditionCode`, the same code `drop_if`
runs), and a record that matches appends `(rule index, record)` to a list.

Rules that read a single field and share it with other rules, or search it with a regex, are
answered per distinct value instead: a bounded memo maps the field's value (text, integer, or
absent) to the rules it satisfies, so five rules about `status` cost one dict lookup per record
and a user-agent regex one search per distinct user agent. Records that match nothing, nearly
all of them, cost the field reads and these lookups and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from logship.record import LogEntry
from parsers.condition import ConditionCode, ConditionSettings

Hits = list[tuple[int, LogEntry]]
Scan = Callable[[list[LogEntry]], Hits | None]

MEMO_ENTRIES = 4096
MEMO_MAX_CHARS = 256


def condition_fields(condition: ConditionSettings) -> set[str]:
    """The fields a condition reads."""
    found: set[str] = set()
    for part in (*(condition.all or ()), *(condition.any or ())):
        found |= condition_fields(part)
    if condition.not_ is not None:
        found |= condition_fields(condition.not_)
    if condition.field is not None:
        found.add(condition.field)
    return found


def _searches(condition: ConditionSettings) -> bool:
    parts = [*(condition.all or ()), *(condition.any or ())]
    if condition.not_ is not None:
        parts.append(condition.not_)
    return condition.matches is not None or any(_searches(p) for p in parts)


def _memo(evaluate: Callable[[Any], tuple[int, ...]], memo: dict[Any, tuple[int, ...]]) -> Any:
    def learn(value: Any) -> tuple[int, ...]:
        result = evaluate(value)
        if value.__class__ is not str or len(value) <= MEMO_MAX_CHARS:
            if len(memo) >= MEMO_ENTRIES:
                memo.clear()
            memo[value] = result
        return result

    return learn


def generate_scan(conditions: Sequence[ConditionSettings], label: str = "alerts") -> Scan:
    """A function returning the (condition index, record) pairs that hold, or None if none."""
    code = ConditionCode()
    fields = [condition_fields(c) for c in conditions]
    by_field: dict[str, list[int]] = {}
    for index, names in enumerate(fields):
        if len(names) == 1:
            by_field.setdefault(next(iter(names)), []).append(index)
    memoized = {
        name: indexes
        for name, indexes in by_field.items()
        if len(indexes) >= 2 or any(_searches(conditions[i]) for i in indexes)
    }
    inline = [i for i in range(len(conditions)) if not any(i in v for v in memoized.values())]
    tests = {i: code.expression(conditions[i]) for i in range(len(conditions))}
    env: dict[str, Any] = dict(code.env)
    helpers: list[str] = []
    lookups: list[tuple[str, str, str]] = []
    for n, (name, indexes) in enumerate(memoized.items()):
        var = code.field(name)
        evaluate = f"_eval{n}"
        helpers += [f"def {evaluate}({var}):", "    out = []"]
        helpers += [f"    if {tests[i]}:\n        out.append({i})" for i in indexes]
        helpers.append("    return tuple(out)")
        lookups.append((var, f"_memo{n}", f"_learn{n}"))
    env.update(code.env)
    source_helpers = "\n".join(helpers)
    if source_helpers:
        exec(compile(source_helpers, f"<{label} memo>", "exec"), env)  # noqa: S102 - our own generated code
    for n, (_, memo, learn) in enumerate(lookups):
        env[memo] = {}
        env[learn] = _memo(env[f"_eval{n}"], env[memo])
    body = ["def scan(entries):", "    hits = None", "    for entry in entries:"]
    body += code.reads("        ")
    for var, memo, learn in lookups:
        body += [
            f"        if {var}.__class__ is str or {var}.__class__ is int or {var} is MISSING:",
            f"            r = {memo}.get({var})",
            "            if r is None:",
            f"                r = {learn}({var})",
            "        else:",
            f"            r = _eval{lookups.index((var, memo, learn))}({var})",
            "        if r:",
            "            if hits is None:",
            "                hits = []",
            "            for i in r:",
            "                hits.append((i, entry))",
        ]
    for index in inline:
        body += [
            f"        if {tests[index]}:",
            "            if hits is None:",
            "                hits = []",
            f"            hits.append(({index}, entry))",
        ]
    body.append("    return hits")
    exec(compile("\n".join(body), f"<{label} scan>", "exec"), env)  # noqa: S102 - our own generated code
    scan: Scan = env["scan"]
    return scan
