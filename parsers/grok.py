"""Grok: named, reusable pieces of regular expressions, referenced as `%{NAME:field:type}`.

`%{NAME}` matches what the library's pattern NAME matches; `%{NAME:field}` also captures it as
`field` (dotted names allowed: `%{IPORHOST:source.address}`); `%{NAME:field:int}` converts the
value too (int, float, bool, string; `long`/`integer`/`double`/`boolean` are accepted as the
same). The library ships with the package (`parsers/patterns/*.txt`, one `NAME regex` per line)
and is extended by the `patterns:` of the config and of rule packs; a user pattern with the name
of a shipped one replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources

from logship.core.errors import LogshipError

GROK_REFERENCE = re.compile(r"%\{([^}:]*)(?::([^}:]*))?(?::([^}]*))?\}")
PATTERN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

TYPE_ALIASES = {
    "int": "int",
    "long": "int",
    "integer": "int",
    "float": "float",
    "double": "float",
    "bool": "bool",
    "boolean": "bool",
    "string": "string",
    "keyword": "string",
}


class GrokError(LogshipError, ValueError):
    """A grok pattern that cannot be expanded (unknown pattern, bad reference, a cycle)."""


@dataclass(frozen=True, slots=True)
class GrokExpansion:
    """A grok pattern turned into a regular expression, and the types its references ask for."""

    regex: str
    types: dict[str, str]
    spans: tuple[tuple[int, int, int, int, str], ...]
    """Per top-level reference: (start, end) in `regex`, (start, end) in the grok text, and the
    pattern name; an error inside an expansion is reported against the reference."""

    def locate(self, position: int) -> str:
        """Where an error at `position` of the regex lies, in the grok pattern's terms."""
        grok_position = position
        for start, end, grok_start, grok_end, name in self.spans:
            if start <= position < end:
                return f"in %{{{name}}} at position {grok_start}"
            if position >= end:
                grok_position = grok_end + (position - end)
        return f"at position {grok_position}"


class GrokLibrary:
    """Pattern name -> regular expression text, with `%{...}` references resolved on demand."""

    def __init__(self, patterns: Mapping[str, str]) -> None:
        self.patterns = dict(patterns)
        self._expanded: dict[str, str] = {}

    @classmethod
    def builtin(cls) -> GrokLibrary:
        """The library shipped with the package."""
        return cls(load_builtin_patterns())

    def extended(self, extra: Mapping[str, str]) -> GrokLibrary:
        """A copy with `extra` added (same names replace shipped patterns)."""
        return GrokLibrary({**self.patterns, **extra})

    def expand(self, grok: str) -> GrokExpansion:
        """The regular expression for a grok pattern; GrokError names what is wrong."""
        types: dict[str, str] = {}
        out: list[str] = []
        spans: list[tuple[int, int, int, int, str]] = []
        length = 0
        last = 0
        for m in GROK_REFERENCE.finditer(grok):
            literal = grok[last : m.start()]
            out.append(literal)
            length += len(literal)
            piece = self._reference(m, types, (), position=m.start())
            spans.append((length, length + len(piece), m.start(), m.end(), m.group(1)))
            out.append(piece)
            length += len(piece)
            last = m.end()
        out.append(grok[last:])
        return GrokExpansion("".join(out), types, tuple(spans))

    def _reference(
        self, m: re.Match[str], types: dict[str, str], stack: tuple[str, ...], position: int
    ) -> str:
        name, field, kind = m.group(1), m.group(2), m.group(3)
        if not PATTERN_NAME.match(name or ""):
            raise GrokError(
                f"bad grok reference {m.group(0)!r} at position {position} "
                "(expected %{NAME}, %{NAME:field} or %{NAME:field:type})"
            )
        body = self._definition(name, types, stack, position)
        if kind is not None:
            if not field:
                raise GrokError(
                    f"{m.group(0)!r} at position {position} has a type but no field name"
                )
            if kind not in TYPE_ALIASES:
                raise GrokError(
                    f"{m.group(0)!r} at position {position}: unknown type {kind!r} "
                    f"(expected one of: int, float, bool, string)"
                )
            types[field] = TYPE_ALIASES[kind]
        if field:
            return f"(?P<{field}>{body})"
        return f"(?:{body})"

    def _definition(
        self, name: str, types: dict[str, str], stack: tuple[str, ...], position: int
    ) -> str:
        cached = self._expanded.get(name)
        if cached is not None:
            return cached
        raw = self.patterns.get(name)
        if raw is None:
            hint = _close_names(name, self.patterns)
            raise GrokError(
                f"unknown grok pattern {name!r} at position {position}{hint}; "
                "define it under `patterns:` or use one of the shipped ones (docs/parser-rules.md)"
            )
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise GrokError(f"grok patterns refer to each other in a cycle: {cycle}")
        pieces: list[str] = []
        last = 0
        inner_types: dict[str, str] = {}
        for m in GROK_REFERENCE.finditer(raw):
            pieces.append(raw[last : m.start()])
            try:
                pieces.append(self._reference(m, inner_types, (*stack, name), position))
            except GrokError as exc:
                if str(exc).startswith("unknown grok pattern"):
                    raise GrokError(
                        f"grok pattern {name!r} refers to unknown pattern {m.group(1)!r}"
                    ) from None
                raise
            last = m.end()
        pieces.append(raw[last:])
        expanded = "".join(pieces)
        if inner_types:
            types.update(inner_types)  # typed captures inside: not cached, re-read each time
        else:
            self._expanded[name] = expanded
        return expanded

    def names(self) -> Iterator[str]:
        """Every pattern name, sorted."""
        return iter(sorted(self.patterns))


def _close_names(name: str, known: Mapping[str, str]) -> str:
    import difflib

    close = difflib.get_close_matches(name.upper(), list(known), n=2, cutoff=0.75)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def parse_pattern_lines(text: str, source: str) -> dict[str, str]:
    """`NAME regex` lines (blank lines and `#` comments skipped) -> {NAME: regex}."""
    patterns: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, _, body = stripped.partition(" ")
        if not PATTERN_NAME.match(name) or not body.strip():
            raise GrokError(f"{source}:{number}: expected 'NAME regex', got {stripped!r}")
        patterns[name] = body.strip()
    return patterns


def load_builtin_patterns() -> dict[str, str]:
    """The shipped pattern library (every `*.txt` in `parsers/patterns`, in name order)."""
    folder = resources.files("parsers.patterns")
    patterns: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt"):
            patterns.update(parse_pattern_lines(entry.read_text(encoding="utf-8"), entry.name))
    return patterns
