"""The bytes the fast loop writes for a record, as a template the compiled scanner fills in.

Rather than work out a second time how a rule's record is laid out (key order, nesting, the
chain's completion with `@timestamp`, `message`, `log`, `host`, `ecs`, `agent`), the Python
fast loop (`parsers.fast_chunk`) is run once on a probe: its match returns a marker string per
group, its integer conversion and timestamp cache return markers naming the group, and the
line, read time and `log.file` are markers too (levels: the normaliser's lookup). orjson encodes the probe record; the markers
in its bytes become the template's values and everything between them its literal pieces. So
the compiled encoder writes, by construction, what the Python loop writes, for every record
whose values it can write the same way (the rest it leaves to the Python loop).

Only rules whose values are group texts, integers, cached timestamps or constants can be
probed like this (`probe_kinds`); others keep the Python loop.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import orjson

P_LIT, P_STR, P_INT, P_TS, P_LINE, P_TIME, P_OFFSET, P_FILE, P_LEVEL = range(9)

Piece = tuple[int, Any]


class Template(NamedTuple):
    """A record template and where its values sit in the record."""

    pieces: tuple[Piece, ...]
    fields: dict[str, tuple[int, int]]
    """Dotted field name -> (kind, group) of each marked value: `{'status': (P_INT, 8),
    '@timestamp': (P_TS, 3)}` (group 0 for the line, the read time and `log.file`)."""


PROBE_KINDS = frozenset({"raw", "string", "int", "timestamp", "const", "level"})
"""Leaf kinds (`parsers.builder.Leaf.kind`) a probe can follow: group texts, integers, lookups
(timestamps, levels) and constants."""

_OFFSET = 8765432187654321
_MARK = re.compile(rb'"\\u0000([GITLMDF])(\d*)\\u0000"|' + str(_OFFSET).encode())
_KINDS = {
    b"G": P_STR,
    b"I": P_INT,
    b"T": P_TS,
    b"L": P_LEVEL,
    b"M": P_LINE,
    b"D": P_TIME,
    b"F": P_FILE,
}


class _ProbeMatch:
    def __init__(self, count: int) -> None:
        self._groups = tuple(f"\x00G{i}\x00" for i in range(1, count + 1))

    def groups(self) -> tuple[str, ...]:
        return self._groups


class _ProbeCache(dict[str, str]):
    def get(self, key: str, default: Any = None) -> str:
        return "\x00T" + key[2:]


class _ProbeLevels(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "\x00L" + key[2:]


def _probe_int(value: str) -> str:
    return "\x00I" + value[2:]


def record_template(source: str, namespace: dict[str, Any], groups: int) -> Template | None:
    """The template of the records the chunk encoder `source` writes; None when its records
    are not a fixed layout of group values (it called its fallback, a stamp or `keep`)."""
    probe = dict(namespace)
    probe.update(
        _match=lambda line: _ProbeMatch(groups),
        _int=_probe_int,
        _tsc=_ProbeCache(),
        _lvl=_ProbeLevels(),
    )
    out: list[bytes] = []

    def refuse(*_: Any) -> None:
        raise LookupError("the probe took the general path")

    try:
        exec(compile(source, "<record template probe>", "exec"), probe)  # noqa: S102 - our own generated code
        probe["encode"](
            ["\x00M\x00"],
            [_OFFSET],
            "\x00D\x00",
            orjson.dumps("\x00F\x00"),
            None,
            out.append,
            refuse,
            None,
        )
    except Exception:  # a stamp, hook or conversion the probe cannot follow
        return None
    if len(out) != 1:
        return None
    pieces = _pieces(out[0], groups)
    return None if pieces is None else Template(pieces, _fields(orjson.loads(out[0])))


_VALUE = re.compile(r"\x00([GITLMDF])(\d*)\x00")


def _fields(record: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Where the probe's markers sit in its record, by dotted name (names that two places
    of the record would share, through a literal dot in a key, are left out)."""
    found: dict[str, tuple[int, int]] = {}
    shared: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else str(key))
            return
        marker = _VALUE.fullmatch(value) if isinstance(value, str) else None
        if marker is not None:
            kind = _KINDS[marker.group(1).encode()]
            if path in found:
                shared.add(path)
            found[path] = (kind, int(marker.group(2) or 0))

    walk(record, "")
    return {name: where for name, where in found.items() if name not in shared}


def _pieces(data: bytes, groups: int) -> tuple[Piece, ...] | None:
    pieces: list[Piece] = []
    at = 0
    for found in _MARK.finditer(data):
        if found.start() > at:
            pieces.append((P_LIT, data[at : found.start()]))
        if found.group(1) is None:
            pieces.append((P_OFFSET, 0))
        else:
            kind = _KINDS[found.group(1)]
            number = int(found.group(2) or 0)
            if (kind in (P_STR, P_INT, P_TS, P_LEVEL)) != (1 <= number <= groups):
                return None
            pieces.append((kind, number))
        at = found.end()
    if at < len(data):
        pieces.append((P_LIT, data[at:]))
    if b"\\u0000" in b"".join(p[1] for p in pieces if p[0] == P_LIT):
        return None  # a marker inside a larger value: not a plain group value
    return tuple(pieces)
