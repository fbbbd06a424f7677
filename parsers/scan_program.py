"""A rule's regular expression as a scan program: the subset a delimiter scanner can run.

Most rules people write for access logs and the like are a chain of literals and greedy runs of
one character class, each run ending where the next literal starts: `(?P<ip>\\S+) - \\[(?P<time>
[^\\]]+)\\] "(?P<method>[A-Z]+) ...`. Such a pattern never backtracks: a greedy run stops at the
first character outside its class, and if what follows cannot start with a character of that
class, stopping earlier could not make the rest match either. For those patterns the compiled
extension (`parsers._fastscan`) scans a line in one pass, without the regex engine.

`scan_program(pattern, flags)` returns the program, or None when the pattern is outside the
subset (alternation, optional or lazy parts, lookarounds, backreferences, a run whose next
step could start with one of its own characters, flags other than VERBOSE/ASCII/DOTALL, ...).
None is not an error: the rule keeps the regex engine. The scanner only runs on ASCII lines,
so classes are 128-bit sets of ASCII code points, computed with Python's own regex engine (so
`\\s`, `\\w`, `\\d` mean exactly what they mean to `re` for those characters).

Ops (tuples, read by the extension):
    (LIT, bytes)                  the text continues with these bytes
    (RUN, set16, min, max)        greedy run of characters in the set (max -1: unbounded)
    (OPEN, n) / (CLOSE, n)        group n starts / ends here
    (END,)                        `$`: end of the line, or before a final newline
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

LIT, RUN, OPEN, CLOSE, END = 0, 1, 2, 3, 4

Op = tuple[Any, ...]
ASCII = range(128)
_ALLOWED_FLAGS = re.UNICODE | re.VERBOSE | re.ASCII | re.DOTALL


class _Outside(Exception):
    """The pattern uses something the scanner does not run."""


def scan_program(pattern: str, flags: int = 0) -> tuple[Op, ...] | None:
    """The scan program of `pattern` (as `re.compile(pattern, flags).match` would match it on
    ASCII text), or None when it is not in the subset the scanner runs without backtracking."""
    if flags & ~_ALLOWED_FLAGS:
        return None
    try:
        parser: Any = importlib.import_module("re._parser")
        tree = parser.parse(pattern, flags)
        all_flags = flags | tree.state.flags
        if all_flags & ~_ALLOWED_FLAGS:
            return None  # inline flags like (?i)
        ops: list[Op] = []
        _emit(list(tree), ops, all_flags, top=True)
        merged = _merge_literals(ops)
        if not _deterministic(merged):
            return None
        return tuple(merged)
    except Exception:  # _Outside, or a re._parser that changed shape: keep the regex engine
        return None


def _emit(items: list[tuple[Any, Any]], ops: list[Op], flags: int, top: bool = False) -> None:
    for position, (op, av) in enumerate(items):
        name = str(op)
        if name == "AT":
            at = str(av)
            if at == "AT_BEGINNING" and top and position == 0 and not ops:
                continue  # `match` is anchored at the start anyway
            if at == "AT_END":  # (MULTILINE, where `$` means more, is refused above)
                ops.append((END,))
                continue
            raise _Outside(at)
        if name == "LITERAL":
            if av >= 128:
                raise _Outside("non-ASCII literal")
            ops.append((LIT, bytes([av])))
        elif name == "SUBPATTERN":
            group, add_flags, del_flags, inner = av
            if add_flags or del_flags:
                raise _Outside("scoped flags")
            if group is not None:
                ops.append((OPEN, group))
            _emit(list(inner), ops, flags)
            if group is not None:
                ops.append((CLOSE, group))
        elif name == "MAX_REPEAT":
            low, high, inner = av
            inner = list(inner)
            if len(inner) != 1:
                raise _Outside("repeat of a sequence")
            members = _members(inner[0], flags)
            top_count = -1 if high == _max_repeat() else int(high)
            if top_count == 0:
                continue
            ops.append((RUN, _bitset(members), int(low), top_count))
        else:
            members = _members((op, av), flags)
            ops.append((RUN, _bitset(members), 1, 1))


@cache
def _max_repeat() -> Any:
    return importlib.import_module("re._constants").MAXREPEAT


def _members(item: tuple[Any, Any], flags: int) -> frozenset[int]:
    """The ASCII code points one single-character item matches."""
    op, av = item
    name = str(op)
    if name == "LITERAL":
        if av >= 128:
            raise _Outside("non-ASCII literal")
        return frozenset([av])
    if name == "NOT_LITERAL":
        return frozenset(c for c in ASCII if c != av)
    if name == "ANY":
        return frozenset(ASCII) if flags & re.DOTALL else frozenset(c for c in ASCII if c != 10)
    if name == "IN":
        negate = False
        found: set[int] = set()
        for sub_op, sub_av in av:
            sub = str(sub_op)
            if sub == "NEGATE":
                negate = True
            elif sub == "LITERAL":
                found.add(sub_av)
            elif sub == "RANGE":
                found.update(range(sub_av[0], min(sub_av[1], 127) + 1))
            elif sub == "CATEGORY":
                found |= _category(str(sub_av), bool(flags & re.ASCII))
            else:
                raise _Outside(sub)
        found &= set(ASCII)
        return frozenset(set(ASCII) - found) if negate else frozenset(found)
    raise _Outside(name)


_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


@cache
def _category(name: str, ascii_only: bool) -> frozenset[int]:
    """ASCII members of a class escape, as Python's regex engine decides them."""
    text = _CATEGORIES.get(name)
    if text is None:
        raise _Outside(name)
    compiled = re.compile(text, re.ASCII if ascii_only else 0)
    return frozenset(c for c in ASCII if compiled.fullmatch(chr(c)))


def _bitset(members: frozenset[int]) -> bytes:
    bits = bytearray(16)
    for c in members:
        bits[c >> 3] |= 1 << (c & 7)
    return bytes(bits)


def _merge_literals(ops: list[Op]) -> list[Op]:
    out: list[Op] = []
    for op in ops:
        if op[0] == LIT and out and out[-1][0] == LIT:
            out[-1] = (LIT, out[-1][1] + op[1])
        else:
            out.append(op)
    return out


def _first(ops: list[Op], start: int) -> set[int]:
    """Characters the rest of the program, from `start`, can begin with."""
    chars: set[int] = set()
    for op in ops[start:]:
        if op[0] == LIT:
            chars.add(op[1][0])
            return chars
        if op[0] == RUN:
            chars |= _unpack(op[1])
            if op[2] >= 1:
                return chars
        elif op[0] == END:
            return chars  # nothing to take from a run: see the module docstring
    return chars


def _unpack(bitset: bytes) -> set[int]:
    return {c for c in ASCII if bitset[c >> 3] & (1 << (c & 7))}


def _deterministic(ops: list[Op]) -> bool:
    """Each run of variable length is followed by something that cannot start inside it."""
    for index, op in enumerate(ops):
        if op[0] == RUN and op[2] != op[3] and _unpack(op[1]) & _first(ops, index + 1):
            return False
    return True
