"""The per-chunk loop on the tailer thread: every rule's condition of one input, inlined.

Generated once per input from the rules that apply to it (like the derived metrics' loops):
the fields the conditions read are looked up once per record into locals, each condition is
one inline expression over them (`parsers.condition.ConditionCode`, the same code `drop_if`
runs), and a record that matches is appended to its rule's list.

Rules that read a single field and share it with other rules, or search it with a regex, are
answered per distinct value instead: a bounded memo maps the field's value (text, integer, or
absent) to the rules it satisfies, so five rules about `status` cost one dict lookup per record
and a user-agent regex one search per distinct user agent. Records that match nothing, nearly
all of them, cost the field reads and these lookups and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from logship.core.record import LogEntry
from parsers.condition import ConditionCode, ConditionSettings

Hits = list[list[LogEntry]]
"""Per condition (by index), the records of the chunk it holds for, in order."""
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
    """A function returning, per condition, the records it holds for; None if it holds for none."""
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
    count = len(conditions)
    body = ["def scan(entries):", f"    hits = [{', '.join(['[]'] * count)}]"]
    # Appends bound once per chunk: a matching record costs one call.
    body += [f"    add{i} = hits[{i}].append" for i in range(count)]
    body.append("    for entry in entries:")
    body += code.reads("        ")
    for n, (var, memo, learn) in enumerate(lookups):
        body += [
            f"        if (c := {var}.__class__) is str or c is int or {var} is MISSING:",
            f"            r = {memo}.get({var})",
            "            if r is None:",
            f"                r = {learn}({var})",
            "        else:",
            f"            r = _eval{n}({var})",
            "        if r:",
            "            for i in r:",
            "                hits[i].append(entry)",
        ]
    for index in inline:
        body += [f"        if {tests[index]}:", f"            add{index}(entry)"]
    body.append("    return hits if any(hits) else None")
    exec(compile("\n".join(body), f"<{label} scan>", "exec"), env)  # noqa: S102 - our own generated code
    scan: Scan = env["scan"]
    return scan
