"""The record builder of a regex or grok rule, generated as Python source once per rule.

Per line, a rule matches, then turns groups into a nested record. Doing that with loops over the
fields (split names, walk dicts, check types) costs more than the match itself, so the plan of
the rule (which group lands where, converted how) is turned into one straight-line function:

    def parse(line):
        m = _match(line)
        if m is None:
            return None
        _1, _2, _3 = m.groups()
        try:
            t1 = _tsc.get(_2)
            if t1 is None: ...
            rec = {'@timestamp': t1, 'source': {'address': _1}, 'http': {...}}
            if _3 is not None:
                rec['user'] = {'name': _3}
        except _Errors:
            return _slow(m)
        return rec

Groups that take part in every match go straight into dict displays; optional ones get an
`is not None` test. Anything unusual on a line (a conversion or timestamp that fails) hands the
match to `_slow`, the rule's generic path (`parsers.fields.FieldProcessor`), which keeps the raw
value and tags the record. Tests check that both paths build the same records.

The same body is also generated as `build(m)`, for a match the caller made itself: a multiline
event is matched on its first line and its continuation appended to the message
(`parsers.conserve`); `parse` keeps the match inline, so single lines pay no extra call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from logship.core.errors import LogshipError
from logship.core.record import LogEntry

Kind = str
"""What a leaf holds: raw, int, float, bool, string, map, level, timestamp, const,
pri_level, pri_facility, pri_severity, pri_severity_name."""


@dataclass(slots=True)
class Leaf:
    """One value of the record: where it goes and where it comes from."""

    path: tuple[str, ...]
    kind: Kind
    sources: tuple[int, ...] = ()
    """Group numbers; the first that took part wins."""
    required: bool = False
    const: Any = None


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node | Leaf] = field(default_factory=dict)
    var: str = ""


@dataclass(slots=True)
class Hook:
    """A derivation called with the record, a path and the raw text of groups, when present."""

    path: tuple[str, ...]
    sources: tuple[int, ...]
    function: Callable[[LogEntry, tuple[str, ...], Any], None]
    writes: frozenset[str] | None = None
    """Top-level keys it adds or changes besides `path`'s (never removes); None: any."""


class BuilderError(LogshipError, ValueError):
    """Two leaves want the same place, or a value where an object is needed."""


@dataclass(slots=True)
class _Names:
    counter: int = 0

    def new(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


_CONVERT_NAMES = {"int": "_int", "float": "_float", "bool": "_bool"}

BAIL = "return _slow(m)"
"""The statement the generated body runs when a line needs the generic path."""


@dataclass(frozen=True, slots=True)
class BuilderPlan:
    """The generated statements of a rule, for code that embeds them (`parsers.fast_chunk`).

    `body` binds `rec` from the groups `_1`.. of match `m` (it may run `BAIL`, and raises
    `_Errors` on a failed conversion); `namespace` holds the names it uses; `top_keys` are the
    top-level keys a record may get (its hooks' too), `always` those it always gets, unless
    `hooks` (a hook that may write anywhere).
    """

    namespace: dict[str, Any]
    group_count: int
    body: tuple[str, ...]
    top_keys: frozenset[str]
    always: frozenset[str]
    hooks: bool
    kinds: frozenset[str] = frozenset()
    """The kinds of its leaves (`Leaf.kind`), and "hook" when it has derivations."""
    pattern: Any = None
    """The compiled `re` pattern `match` belongs to (None for a `regex`-module pattern)."""


def generate_builder(
    *,
    match: Callable[[str], Any],
    group_count: int,
    leaves: Sequence[Leaf],
    tags: Sequence[str],
    slow: Callable[[Any], LogEntry],
    converters: dict[str, Callable[[Any], Any]],
    level_normalizer: Any,
    timestamp_parser: Any,
    syslog_levels: Sequence[str],
    severity_names: Sequence[str],
    hooks: Sequence[Hook] = (),
    pattern: Any = None,
) -> tuple[Callable[[str], LogEntry | None], Callable[[Any], LogEntry], str, BuilderPlan]:
    """The generated `parse(line) -> record or None`, `build(match) -> record`, their source
    (kept for debugging), and the plan they were made of."""
    namespace: dict[str, Any] = {
        "_match": match,
        "_slow": slow,
        "_int": converters["int"],
        "_float": converters["float"],
        "_bool": converters["bool"],
        "_lvl": level_normalizer,
        "_tsp": timestamp_parser,
        "_tsc": getattr(timestamp_parser, "cache", {}),
        "_tags": tuple(tags),
        "_Errors": (ValueError, TypeError, OverflowError),
        "_pri_levels": tuple(syslog_levels),
        "_sev_names": tuple(severity_names),
    }
    root = _tree(leaves)
    names = _Names()
    pre: list[str] = []
    exprs: dict[int, tuple[str, str | None]] = {}
    pri_vars: dict[tuple[int, ...], tuple[str, str | None]] = {}
    for index, leaf in enumerate(leaves):
        exprs[index] = _expression(leaf, index, namespace, names, pre, pri_vars)
    leaf_index = {id(leaf): i for i, leaf in enumerate(leaves)}

    def expr(leaf: Leaf) -> str:
        return exprs[leaf_index[id(leaf)]][0]

    def test(leaf: Leaf) -> str:
        condition = exprs[leaf_index[id(leaf)]][1]
        assert condition is not None
        return condition

    hook_calls: list[str] = []
    for index, hook in enumerate(hooks):
        namespace[f"_h{index}"] = hook.function
        namespace[f"_hp{index}"] = hook.path
        raw, present = _source(Leaf(hook.path, "raw", hook.sources), names, pre)
        call = f"_h{index}(rec, _hp{index}, {raw})"
        hook_calls.extend([f"if {present}:", f"    {call}"] if present else [call])
    body: list[str] = list(pre)
    if tags:
        root.children["tags"] = Leaf(("tags",), "tags", required=True)
        exprs[len(leaves)] = ("list(_tags)", None)
        leaf_index[id(root.children["tags"])] = len(leaves)
    body.append(f"rec = {_literal(root, names, expr)}")
    _optional(root, "rec", body, names, expr, test)
    body.extend(hook_calls)

    plan = BuilderPlan(
        dict(namespace),
        group_count,
        tuple(body),
        frozenset(root.children).union(
            *(h.writes or () for h in hooks), (h.path[0] for h in hooks)
        ),
        frozenset(k for k, c in root.children.items() if _required(c)),
        any(h.writes is None for h in hooks),
        frozenset(leaf.kind for leaf in leaves) | ({"hook"} if hooks else set()),
        pattern,
    )
    finish: list[str] = []
    if group_count:
        targets = ", ".join(f"_{i}" for i in range(1, group_count + 1))
        finish.append(f"    {targets}{',' if group_count == 1 else ''} = m.groups()")
    finish.append("    try:")
    finish.extend(f"        {line}" for line in body)
    finish.append("    except _Errors:")
    finish.append(f"        {BAIL}")
    finish.append("    return rec")
    lines = [
        "def parse(line):",
        "    m = _match(line)",
        "    if m is None:",
        "        return None",
        *finish,
        "",
        "def build(m):",
        *finish,
    ]
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<parser rule builder>", "exec"), namespace)  # noqa: S102 - our own generated code
    parse: Callable[[str], LogEntry | None] = namespace["parse"]
    build: Callable[[Any], LogEntry] = namespace["build"]
    return parse, build, source, plan


def _tree(leaves: Sequence[Leaf]) -> _Node:
    root = _Node()
    for leaf in leaves:
        node = root
        for i, part in enumerate(leaf.path[:-1]):
            child = node.children.get(part)
            if child is None:
                child = _Node()
                node.children[part] = child
            elif isinstance(child, Leaf):
                raise BuilderError(
                    f"{'.'.join(leaf.path[: i + 1])!r} is both a value and the object "
                    f"holding {'.'.join(leaf.path)!r}"
                )
            node = child
        last = leaf.path[-1]
        existing = node.children.get(last)
        if isinstance(existing, _Node):
            raise BuilderError(
                f"{'.'.join(leaf.path)!r} is both a value and an object with fields below it"
            )
        if existing is not None:
            raise BuilderError(f"{'.'.join(leaf.path)!r} is set twice")
        node.children[last] = leaf
    return root


def _source(leaf: Leaf, names: _Names, pre: list[str]) -> tuple[str, str | None]:
    """The expression for the raw value of a leaf's groups, and its presence test."""
    if len(leaf.sources) == 1:
        group = f"_{leaf.sources[0]}"
        return group, None if leaf.required else f"{group} is not None"
    var = names.new("v")
    chain = f"_{leaf.sources[-1]}"
    for number in reversed(leaf.sources[:-1]):
        chain = f"_{number} if _{number} is not None else ({chain})"
    pre.append(f"{var} = {chain}")
    return var, None if leaf.required else f"{var} is not None"


def _expression(
    leaf: Leaf,
    index: int,
    namespace: dict[str, Any],
    names: _Names,
    pre: list[str],
    pri_vars: dict[tuple[int, ...], tuple[str, str | None]],
) -> tuple[str, str | None]:
    if leaf.kind == "const":
        key = f"_k{index}"
        namespace[key] = tuple(leaf.const) if isinstance(leaf.const, list) else leaf.const
        return (f"list({key})" if isinstance(leaf.const, list) else key), None
    raw, present = _source(leaf, names, pre)
    if leaf.kind in ("raw", "string"):
        return raw, present
    if leaf.kind in _CONVERT_NAMES:
        return f"{_CONVERT_NAMES[leaf.kind]}({raw})", present
    if leaf.kind == "level":
        return f"_lvl[{raw}]", present
    if leaf.kind == "map":
        key = f"_m{index}"
        namespace[key] = dict(leaf.const)
        return f"{key}.get({raw}, {raw})", present
    if leaf.kind == "timestamp":
        var = names.new("t")
        steps = [
            f"{var} = _tsc.get({raw})",
            f"if {var} is None:",
            f"    {var} = _tsp({raw})",
            f"    if {var} is None:",
            f"        {BAIL}",
        ]
        if present is None:
            pre.extend(steps)
        else:
            pre.append(f"if {present}:")
            pre.extend(f"    {s}" for s in steps)
            pre.append("else:")
            pre.append(f"    {var} = None")
            present = f"{var} is not None"
        return var, present
    if leaf.kind.startswith("pri_"):
        known = pri_vars.get(leaf.sources)
        if known is None:
            var = names.new("p")
            if present is None:
                pre.append(f"{var} = _int({raw})")
            else:
                pre.append(f"{var} = _int({raw}) if {present} else None")
                present = f"{var} is not None"
            known = (var, present)
            pri_vars[leaf.sources] = known
        var, present = known
        return {
            "pri_level": f"_pri_levels[{var} & 7]",
            "pri_facility": f"({var} >> 3)",
            "pri_severity": f"({var} & 7)",
            "pri_severity_name": f"_sev_names[{var} & 7]",
        }[leaf.kind], present
    raise AssertionError(f"unknown leaf kind {leaf.kind}")


def _required(node: _Node | Leaf) -> bool:
    if isinstance(node, Leaf):
        return node.required
    return any(_required(c) for c in node.children.values())


def _has_optional(node: _Node | Leaf) -> bool:
    if isinstance(node, Leaf):
        return not node.required
    return any(_has_optional(c) for c in node.children.values())


def _leaves_below(node: _Node | Leaf) -> list[tuple[tuple[str, ...], Leaf]]:
    if isinstance(node, Leaf):
        return [((), node)]
    out: list[tuple[tuple[str, ...], Leaf]] = []
    for key, child in node.children.items():
        out.extend(((key, *rel), leaf) for rel, leaf in _leaves_below(child))
    return out


def _literal(node: _Node, names: _Names, expr: Callable[[Leaf], str]) -> str:
    """A dict display of a node's required content; nodes with optional content get a name."""
    items = []
    for key, child in node.children.items():
        if isinstance(child, Leaf):
            if child.required:
                items.append(f"{key!r}: {expr(child)}")
        elif _required(child):
            text = _literal(child, names, expr)
            if _has_optional(child):
                child.var = names.new("c")
                text = f"({child.var} := {text})"
            items.append(f"{key!r}: {text}")
    return "{" + ", ".join(items) + "}"


def _optional(
    node: _Node,
    var: str,
    out: list[str],
    names: _Names,
    expr: Callable[[Leaf], str],
    test: Callable[[Leaf], str],
) -> None:
    """Statements adding a node's optional content to the dict named `var`."""
    for key, child in node.children.items():
        if isinstance(child, Leaf):
            if not child.required:
                out.append(f"if {test(child)}:")
                out.append(f"    {var}[{key!r}] = {expr(child)}")
            continue
        if _required(child):
            if _has_optional(child):
                _optional(child, child.var, out, names, expr, test)
            continue
        below = _leaves_below(child)
        if len(below) == 1:
            rel, leaf = below[0]
            text = expr(leaf)
            for part in reversed(rel):
                text = f"{{{part!r}: {text}}}"
            out.append(f"if {test(leaf)}:")
            out.append(f"    {var}[{key!r}] = {text}")
            continue
        # Only built when one of its values is there: no empty dict per line.
        child_var = names.new("c")
        inner = [f"{child_var} = {{}}"]
        _optional(child, child_var, inner, names, expr, test)
        inner.append(f"{var}[{key!r}] = {child_var}")
        out.append(f"if {' or '.join(test(leaf) for _, leaf in below)}:")
        out.extend(f"    {line}" for line in inner)
