"""The layout rule, checked: imports only run downward and no module imports itself in a circle.

Every `import` in logship/, parsers/ and sinks/ counts, wherever it is written: at the top, inside
a function (lazy) or under `if TYPE_CHECKING:`. The allowed edges follow the data flow (see
docs/design.md, "Where code lives"):

    app      -> everything: it composes the stages
    observe  -> tail, deliver, state, parsers, sinks, core: it watches every stage
    tail     -> deliver (hands batches to the sink queues), state (resumes from checkpoints),
                parsers (parses what it read), core
    kube     -> core: the Kubernetes API watch and pod cache; the tailer sees it only through
                the PodSource protocol of logship.tail.pod_context, which the agent wires in
    deliver  -> core
    state    -> core
    parsers  -> core
    sinks    -> core
    core     -> nothing else of ours

`logship/__init__.py` (only `__version__`) may be imported from anywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("logship", "parsers", "sinks")
MAX_LINES = 450

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "tail": {"deliver", "state", "parsers"},
    "deliver": set(),
    "state": set(),
    "kube": set(),
    "observe": {"tail", "deliver", "state", "parsers", "sinks"},
    "app": {"tail", "deliver", "state", "observe", "parsers", "sinks", "kube"},
    "parsers": set(),
    "sinks": set(),
}
"""What each layer may import besides itself, `core` and `logship` (the version)."""

# Edges that break the rule, each with its reason. `logship setup elasticsearch` maps the fields
# the configured rules capture with their types (a command beside the sink, not its data path).
KNOWN_UPWARD: set[tuple[str, str]] = {
    ("sinks.elasticsearch.setup", "parsers.config"),
}
KNOWN_CYCLES: list[set[str]] = []


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The modules of ours that `module` imports, each resolved to a module that exists."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports module a.b when b is one, else a name of a.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            found = name
            while found and found not in known:
                found = found.rpartition(".")[0]
            if found and found != module:
                yield found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: set(_imports(module, path, known)) for module, path in known.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "logship":
        return parts[0]
    if len(parts) == 1:
        return "version"
    return "app" if parts[1] == "__main__" else parts[1]


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_imports_only_run_down_the_layers() -> None:
    upward = []
    for module, targets in _graph().items():
        layer = _layer(module)
        for target in targets:
            target_layer = _layer(target)
            if target_layer in (layer, "core", "version"):
                continue
            allowed = layer != "version" and target_layer in ALLOWED[layer]
            if not allowed and (module, target) not in KNOWN_UPWARD:
                upward.append(f"{module} ({layer}) imports {target} ({target_layer})")
    assert not upward, "imports against the layer rule:\n" + "\n".join(sorted(upward))


def test_no_module_imports_itself_in_a_circle() -> None:
    cycles = [sorted(c) for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, "import cycles (lazy and TYPE_CHECKING imports count):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_module_in_logship_is_over_450_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in sorted((ROOT / "logship").rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, "split these modules:\n" + "\n".join(long)


def test_the_checker_sees_lazy_and_type_checking_imports_and_cycles(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from logship.app.config import Config\n"
        "def f() -> None:\n    from logship.tail import tailer\n"
    )
    tree = {
        "logship.core.x": Path("x.py"),
        "logship.app.config": Path(),
        "logship.tail.tailer": Path(),
    }
    probe = tmp_path / "x.py"
    probe.write_text(source)
    found = set(_imports("logship.core.x", probe, tree))
    assert found == {"logship.app.config", "logship.tail.tailer"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
