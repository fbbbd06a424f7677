"""Selection: which records of a chunk each of several conditions holds for, in one loop.

An observer that reads only the records some conditions hold for (alert rules: their `when`)
hands the chain a Selection. Per record, the fields the conditions read are looked up once
into locals, each condition is one inline expression over them (`parsers.condition`), and a
record that matches is appended to each matching condition's list (its `Hits`).

Conditions that read a single field and share it with others, or search it with a regex, are
answered per distinct value instead: a bounded memo maps the field's value (text, integer, or
absent) to the conditions it satisfies, so five conditions about `status` cost one dict lookup
per record and a user-agent regex one search per distinct user agent.

The same per-record code runs in two places: `scan` over records built by the general path,
and inside the fast path's generated loop (`parsers.fast_chunk`), where the record is checked
right after it is encoded and only the ones some condition holds for are kept as dicts. Records
that match nothing, nearly all of them, cost the field reads and these lookups and nothing else.

Where the compiled scanner encodes a chunk, it also decides the conditions
(`parsers.native_select`) and hands over counts instead of records (`Hits.count_sets`): per
condition, the values of its `keys` fields and `@timestamp`, how many records, and the records
as JSON lines (turned into records only when someone reads one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from logship.core.record import LogEntry
from parsers.condition import ConditionCode, ConditionSettings

Counted = tuple[int, tuple[str, ...], Any, int, Sequence[bytes]]
"""(condition index, its `keys` values as label texts, `@timestamp`, how many records, the
records as JSON lines): records of a chunk a condition holds for that share those values."""

RuleTable = tuple[dict[Any, Any], int, float, Any, type, float] | None
"""What a CountSet needs of a rule's group table to change it as the alert engine's loop
would: (groups, threshold, span: how far before the clock an event time is late, the rule's
seeds (a `parsers._fastscan.SeedTable`) or None when new groups are not seeded, the engine's
Group class, window width); None: it changes nothing of this rule (every count goes to the
engine's loop)."""


class CountSet(Protocol):
    """The counts of one chunk the compiled scanner encoded (`parsers._fastscan.CountSet`)."""

    def __len__(self) -> int:
        """How many counts."""

    def items(self) -> list[Counted]:
        """Every count, in the order the alert engine takes them."""

    def observe(
        self,
        tables: tuple[RuleTable, ...],
        now: float,
        times: Callable[[Any], float | None],
        handle: Callable[[list[Counted]], None],
    ) -> list[tuple[int, int, int]]:
        """The engine's loop over these counts, its common cases here: a new group below its
        threshold becomes a seed in its rule's seeds; a group that stays below its threshold,
        or fires silenced, counts the records into its window. Every other count goes to
        `handle`, in order. Returns (condition, records counted here, seeds dropped to make
        room) for the conditions that counted or dropped here."""


class Hits(list[list[LogEntry]]):
    """Per condition (by index), the records of the chunk it holds for, in order; and what
    the compiled scanner counted instead of handing over records (`count_sets`)."""

    __slots__ = ("count_sets",)

    def __init__(self, conditions: int) -> None:
        super().__init__([] for _ in range(conditions))
        self.count_sets: list[CountSet] = []

    @property
    def counted(self) -> list[Counted]:
        """Every count of `count_sets`, in order (built on each call: for tests and tools)."""
        return [item for counts in self.count_sets for item in counts.items()]


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


class Selection:
    """Conditions compiled into per-record code; hashable by identity (the chain caches the
    fast-path loops generated for it)."""

    def __init__(
        self,
        conditions: Sequence[ConditionSettings],
        label: str = "selection",
        keys: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self.conditions = list(conditions)
        self.label = label
        self.keys = [tuple(k) for k in keys] if keys is not None else [()] * len(self.conditions)
        if len(self.keys) != len(self.conditions):
            raise ValueError("keys: one list of fields per condition")
        """Per condition, the fields whose values tell its counts apart (alerts: `group_by`)."""
        self.fields: set[str] = set().union(*map(condition_fields, self.conditions))
        """Every field the conditions read."""
        self.env: dict[str, Any] = {}
        """The constants and helpers the per-record code refers to (names prefixed `_s`)."""
        self._tests, self._lookups = self._prepare()
        self.scan: Callable[[list[LogEntry], Hits], None] = self._generate_scan()
        """Appends each record to the hits of the conditions it satisfies."""

    def __len__(self) -> int:
        return len(self.conditions)

    def hits(self) -> Hits:
        """Empty hits, one list per condition."""
        return Hits(len(self.conditions))

    def _prepare(self) -> tuple[dict[int, str], list[tuple[str, list[int]]]]:
        code = self._code = ConditionCode()
        conditions = self.conditions
        by_field: dict[str, list[int]] = {}
        for index, condition in enumerate(conditions):
            names = condition_fields(condition)
            if len(names) == 1:
                by_field.setdefault(next(iter(names)), []).append(index)
        memoized = {
            name: indexes
            for name, indexes in by_field.items()
            if len(indexes) >= 2 or any(_searches(conditions[i]) for i in indexes)
        }
        done = {i for indexes in memoized.values() for i in indexes}
        tests = {i: code.expression(c) for i, c in enumerate(conditions)}
        helpers: list[str] = []
        lookups: list[tuple[str, list[int]]] = []
        for n, (name, indexes) in enumerate(memoized.items()):
            var = code.field(name)
            helpers += [f"def _s_eval{n}({var}):", "    out = []"]
            helpers += [f"    if {tests[i]}:\n        out.append({i})" for i in indexes]
            helpers.append("    return tuple(out)")
            lookups.append((var, indexes))
        env = self.env
        env.update(code.env)
        if helpers:
            exec(compile("\n".join(helpers), f"<{self.label} memo>", "exec"), env)  # noqa: S102 - our own generated code
        for n in range(len(lookups)):
            memo: dict[Any, tuple[int, ...]] = {}
            env[f"_s_get{n}"] = memo.get  # the memo is cleared when full, never replaced
            env[f"_s_learn{n}"] = _memo(env[f"_s_eval{n}"], memo)
        inline = {i: t for i, t in tests.items() if i not in done}
        return inline, lookups

    def body(self, entry: str, indent: str, hit: list[str] | None = None) -> list[str]:
        """Per-record statements over the record in `entry`: append it to `_s_hits[i]` for each
        condition `i` it satisfies; then, when any did, run the statements `hit`. They assume
        `_s_hits` (the Hits) is a local and the names in `env` are globals."""
        code = self._code
        code.entry = entry
        lines = code.reads(indent)
        flag = hit is not None
        if flag:
            lines.append(f"{indent}_s_any = False")
        for n, (var, _) in enumerate(self._lookups):
            # (A float or bool equals an int key of the memo but may answer differently.)
            lines += [
                f"{indent}_s_r = _s_get{n}({var}) if ((_c := {var}.__class__) is int or "
                f"_c is str or {var} is MISSING) else _s_eval{n}({var})",
                f"{indent}if _s_r is None:",
                f"{indent}    _s_r = _s_learn{n}({var})",
                f"{indent}if _s_r:",
                f"{indent}    for _s_i in _s_r:",
                f"{indent}        _s_hits[_s_i].append({entry})",
            ]
            if flag:
                lines.append(f"{indent}    _s_any = True")
        for index, test in self._tests.items():
            lines += [f"{indent}if {test}:", f"{indent}    _s_hits[{index}].append({entry})"]
            if flag:
                lines.append(f"{indent}    _s_any = True")
        if flag and hit:
            lines.append(f"{indent}if _s_any:")
            lines += [f"{indent}    {line}" for line in hit]
        return lines

    def _generate_scan(self) -> Callable[[list[LogEntry], Hits], None]:
        source = [
            "def scan(entries, _s_hits):",
            "    for entry in entries:",
            *(self.body("entry", "        ") or ["        pass"]),
        ]
        env = dict(self.env)
        exec(compile("\n".join(source), f"<{self.label} scan>", "exec"), env)  # noqa: S102 - our own generated code
        scan: Callable[[list[LogEntry], Hits], None] = env["scan"]
        return scan
