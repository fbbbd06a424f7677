"""Rule patterns: regular expressions whose named groups are field names, dots included.

Python's `re` and the `regex` module only accept identifiers as group names, but rules capture
into ECS names like `(?P<http.request.method>[A-Z]+)`. Every named group is therefore renamed to
an internal name (`_g1`, `_g2`, ...) before compiling, and the field names are kept beside the
compiled pattern. Error positions are mapped back to the text the user wrote.

A pattern compiles with `re` when it can (faster for the patterns rules use, measured in
`benchmarks/parser_rules.py`), else with `regex` (atomic groups in older Pythons, `\\p{..}`
classes, variable-width lookbehind, repeated group names).
"""

from __future__ import annotations

import bisect
import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logship.core.errors import LogshipError

if TYPE_CHECKING:
    import regex

    Compiled = re.Pattern[str] | regex.Pattern[str]

_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_.@-]*\Z")


class PatternError(LogshipError, ValueError):
    """A pattern that cannot be used; the message names the position in the user's text."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True, slots=True)
class RulePattern:
    """A compiled pattern and what its groups capture.

    `fields` lists (group number, field name) for every named group in pattern order; a field
    name may appear twice (alternatives), the first group that participated wins. `required`
    holds the numbers of groups that take part in every match (so the record builder needs no
    None check for them); it is empty when that cannot be worked out (a `regex`-only pattern).
    """

    compiled: Compiled
    fields: tuple[tuple[int, str], ...]
    required: frozenset[int]
    engine: str

    @property
    def field_names(self) -> list[str]:
        """Captured field names, each once, in pattern order."""
        return list(dict.fromkeys(name for _, name in self.fields))


@dataclass(frozen=True, slots=True)
class _Renamed:
    text: str
    names: dict[str, str]  # internal -> field name
    edits: tuple[tuple[int, int, int, int], ...]  # (new_start, new_end, old_start, old_end)


def compile_rule_pattern(pattern: str, flags: int = 0) -> RulePattern:
    """Compiles a rule's regular expression; raises PatternError naming the position."""
    renamed = _rename_groups(pattern)
    compiled, engine = _compile(renamed, flags)
    fields = tuple(
        sorted((number, renamed.names[name]) for name, number in compiled.groupindex.items())
    )
    required = _required_groups(renamed.text, flags) if engine == "re" else frozenset()
    return RulePattern(compiled, fields, required, engine)


def compile_pattern(pattern: str, flags: int = 0) -> Compiled:
    """A plain pattern (no field names): `re` when it compiles, else `regex`; PatternError if neither."""
    try:
        return re.compile(pattern, flags)
    except re.error:
        pass
    import regex  # only for what `re` refuses: most agents never need it (~10 ms to import)

    try:
        return regex.compile(pattern, flags=flags | regex.VERSION0)
    except regex.error as exc:
        pos = getattr(exc, "pos", None)
        msg = str(getattr(exc, "msg", exc))
        if pos is not None:
            pos = _unclosed_opening(pattern, msg, pos)
        where = f" at position {pos}" if pos is not None else ""
        raise PatternError(f"does not compile{where}: {msg}", position=pos) from None


def _compile(renamed: _Renamed, flags: int) -> tuple[Compiled, str]:
    try:
        return re.compile(renamed.text, flags), "re"
    except re.error:
        pass
    import regex  # see compile_pattern

    try:
        return regex.compile(renamed.text, flags=flags | regex.VERSION0), "regex"
    except regex.error as exc:
        pos = getattr(exc, "pos", None)
        msg = str(getattr(exc, "msg", exc))
        for internal, name in renamed.names.items():
            msg = msg.replace(internal, name)
        if pos is None:
            raise PatternError(f"does not compile: {msg}") from None
        pos = _unclosed_opening(renamed.text, msg, pos)
        where = _original_position(renamed.edits, pos)
        raise PatternError(f"does not compile at position {where}: {msg}", where) from None


def _unclosed_opening(text: str, msg: str, pos: int) -> int:
    """The position of the `[` an "unterminated character set" error is about.

    The regex module reports it at the end of the pattern, where it gave up; the user needs the
    place the set was opened. `pos` for any other error.
    """
    if msg != "unterminated character set":
        return pos
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == "[":
            end = _class_close(text, i)
            if end is None:
                return i
            i = end
        else:
            i += 1
    return pos


def _original_position(edits: tuple[tuple[int, int, int, int], ...], pos: int) -> int:
    """Maps a position in the renamed text back to the text the user wrote."""
    index = bisect.bisect_right([e[0] for e in edits], pos) - 1
    if index < 0:
        return pos
    _, new_end, old_start, old_end = edits[index]
    if pos < new_end:
        return old_start
    return old_end + (pos - new_end)


def _rename_groups(pattern: str) -> _Renamed:
    """Renames every named group to `_gN`, outside character classes and escapes."""
    out: list[str] = []
    names: dict[str, str] = {}
    by_field: dict[str, str] = {}
    edits: list[tuple[int, int, int, int]] = []
    new_len = 0
    i = 0
    n = len(pattern)

    def emit(text: str) -> None:
        nonlocal new_len
        out.append(text)
        new_len += len(text)

    while i < n:
        c = pattern[i]
        if c == "\\":
            emit(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = _class_end(pattern, i)
            emit(pattern[i:j])
            i = j
            continue
        if pattern.startswith("(?#", i):
            j = pattern.find(")", i)
            j = n if j < 0 else j + 1
            emit(pattern[i:j])
            i = j
            continue
        name_start = _group_name_start(pattern, i)
        if name_start is not None:
            close = pattern.find(">", name_start)
            if close < 0:
                raise PatternError(
                    f"does not compile at position {i}: missing '>' after the group name", i
                )
            name = pattern[name_start:close]
            if not _NAME.match(name):
                raise PatternError(
                    f"does not compile at position {name_start}: bad group name {name!r} "
                    "(use letters, digits, '_', '.', '-', like http.request.method)",
                    name_start,
                )
            internal = f"_g{len(names) + 1}"
            names[internal] = name
            by_field.setdefault(name, internal)
            emit(pattern[i:name_start])
            edits.append((new_len, new_len + len(internal), name_start, close))
            emit(internal)
            i = close
            continue
        if pattern.startswith("(?P=", i):
            close = pattern.find(")", i)
            if close > 0:
                name = pattern[i + 4 : close]
                target = by_field.get(name)
                if target is not None:
                    emit("(?P=")
                    edits.append((new_len, new_len + len(target), i + 4, close))
                    emit(target)
                    i = close
                    continue
        emit(c)
        i += 1
    return _Renamed("".join(out), names, tuple(edits))


def _group_name_start(pattern: str, i: int) -> int | None:
    """Where the name starts if a named group opens at `i` (`(?P<name>` or `(?<name>`)."""
    if pattern.startswith("(?P<", i):
        return i + 4
    if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
        return i + 3
    return None


def _class_end(pattern: str, start: int) -> int:
    """Index just after the character class opening at `start` (or the end of the text)."""
    end = _class_close(pattern, start)
    return len(pattern) if end is None else end


def _class_close(pattern: str, start: int) -> int | None:
    """Index just after the character class opening at `start`; None when it is never closed."""
    j = start + 1
    n = len(pattern)
    if j < n and pattern[j] == "^":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1
    while j < n:
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "]":
            return j + 1
        j += 1
    return None


def _required_groups(text: str, flags: int) -> frozenset[int]:
    """Numbers of the groups that participate in every match (outside optional constructs)."""
    try:
        parser: Any = importlib.import_module("re._parser")
        tree = parser.parse(text, flags)
    except Exception:
        return frozenset()
    required: set[int] = set()

    def walk(items: Any, mandatory: bool) -> None:
        for op, av in items:
            name = str(op)
            if name == "SUBPATTERN":
                group, _, _, sub = av
                if group and mandatory:
                    required.add(group)
                walk(sub, mandatory)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, _, sub = av
                walk(sub, mandatory and low >= 1)
            elif name == "BRANCH":
                _, branches = av
                for branch in branches:
                    walk(branch, mandatory and len(branches) == 1)
            elif name == "ASSERT":
                _, sub = av
                walk(sub, mandatory)
            elif name == "ATOMIC_GROUP":
                walk(av, mandatory)
            elif name in ("ASSERT_NOT", "GROUPREF_EXISTS"):
                continue  # groups in there may or may not take part

    try:
        walk(tree, True)
    except Exception:
        return frozenset()
    return frozenset(required)
