"""YAML loading that refuses duplicate keys (PyYAML would silently keep the last one)."""

from __future__ import annotations

from typing import Any

import yaml


def _refuse_duplicates(
    loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode, deep: bool
) -> None:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: a key written twice is a mistake, not an override."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _refuse_duplicates(self, node, deep)
        return super().construct_mapping(node, deep)


class _CUniqueKeyLoader(yaml.CSafeLoader):
    """The same on libyaml's parser: about 10x faster (the built-in rule packs, read by every
    agent process: ~50 ms of CPU with the pure-Python parser)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _refuse_duplicates(self, node, deep)
        return super().construct_mapping(node, deep)


def load(text: str, fast: bool = False) -> Any:
    """The document in `text`; raises yaml.YAMLError (with marks) on syntax errors and duplicate keys.

    `fast`: parse with libyaml when PyYAML has it. Only for package data (the built-in rule
    packs; a test checks both parsers read them alike): libyaml words its syntax errors
    differently, and the messages users see about their own files stay those documented.
    """
    loader = _CUniqueKeyLoader if fast and yaml.__with_libyaml__ else UniqueKeyLoader
    return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader subclasses


def describe_error(exc: yaml.YAMLError) -> str:
    """One line for a YAML error: where, what, and a hint for the mistakes people make in rules."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f"YAML error: {exc}"
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
    what = exc.problem or exc.context or "syntax error"
    if "unknown escape character" in what:
        # A regex in double quotes: YAML reads `\S`, `\d`, `\.` as its own escapes.
        what += (
            " (inside double quotes YAML reads backslashes as escapes: write regular "
            "expressions in single quotes, like regex: '^(?P<ip>\\S+)', or double each backslash)"
        )
    return f"YAML syntax error at {where}: {what}"
