"""Redaction: secrets and personal data replaced in records before they are shipped.

Built-in redactors (enabled by name under `parsers.redact.builtins`):

- `credit_card`: card numbers, i.e. 13-19 digits passing the Luhn check, written together or in
  groups separated by single spaces or dashes (`4111 1111 1111 1111`, `4111-1111-1111-1111`),
  alone or as whole groups of a longer run of groups; the whole run is replaced. A longer run of
  digits without separators is an id, not a card number, and is kept.
- `email`: e-mail addresses.
- `bearer_token`: the token after `Bearer ` (an `Authorization` header value, in any case).
- `password`: the value after `password=` / `passwd:` / `pwd=` / `secret=` / `token=` /
  `api_key=` and the like (`key=value`, `key: value`, `"key": "value"` in JSON text).

Own patterns are regular expressions; the match is replaced by `replacement` (default
`[REDACTED:<name>]`, `\\1`-style group references allowed).

Every string value of a record is redacted (numbers are not: convert card-like fields to numbers
at your own risk). For rules whose fields are pieces of the line (regex, grok, logfmt), a cheap
check of the raw line decides whether a record needs the walk at all, so records without anything
to redact cost one scan of the line per redactor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logship.core.record import LogEntry
from parsers.pattern import compile_pattern

BUILTIN_REDACTORS = ("credit_card", "email", "bearer_token", "password")

# Candidates are found with single character-class repeats (fast in `re`); the exact rules are
# then applied to the few candidates in Python. Searching with the exact patterns directly costs
# 5-30 us per line (measured in benchmarks/parser_rules.py), more than parsing it.
_DIGIT_CANDIDATE = re.compile(r"[0-9][0-9 -]{11,}[0-9]")
_SEPARATORS = re.compile(r"[ -]")
_DOUBLE_SEPARATOR = re.compile(r"([ -]{2,})")
_EMAIL_DOMAIN = re.compile(
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_EMAIL_LOCAL = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~.-"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+")
_PASSWORD_KEYS = ("pass", "pwd", "secret", "token", "key")
_PASSWORD = re.compile(
    r"(?i)(\b(?:password|passwd|pass|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret)"
    r"\"?\s*[=:]\s*\"?)([^\s\"&,;]+)"
)


def luhn_valid(digits: str) -> bool:
    """True when a string of digits passes the Luhn checksum (card numbers do)."""
    total = 0
    double = False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return total % 10 == 0


def contains_card_number(run: str) -> bool:
    """True when a run of digits holds a card number: the whole run, or a whole sequence of its
    space / dash separated groups, of 13-19 digits that passes the Luhn check."""
    groups = [g for g in _SEPARATORS.split(run) if g]
    for first in range(len(groups)):
        digits = ""
        for group in groups[first:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                return True
    return False


def _redact_cards(text: str, replacement: str) -> str:
    def replace(m: re.Match[str]) -> str:
        candidate = m.group(0)
        if _DOUBLE_SEPARATOR.search(candidate):
            # Several runs in one candidate: each run (single separators) on its own.
            pieces = _DOUBLE_SEPARATOR.split(candidate)
            return "".join(
                replacement if i % 2 == 0 and contains_card_number(piece) else piece
                for i, piece in enumerate(pieces)
            )
        return replacement if contains_card_number(candidate) else candidate

    return _DIGIT_CANDIDATE.sub(replace, text)


def _redact_emails(text: str, replacement: str) -> str:
    out: list[str] = []
    last = 0
    for m in _EMAIL_DOMAIN.finditer(text):
        at = m.start()
        start = at
        while start > last and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        if start == at:
            continue  # nothing before the @: not an address
        out.append(text[last:start])
        out.append(replacement)
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _has_password_key(text: str) -> bool:
    lowered = text.lower()
    return any(key in lowered for key in _PASSWORD_KEYS) and _PASSWORD.search(text) is not None


@dataclass(frozen=True, slots=True)
class _Redactor:
    name: str
    prefilter: Callable[[str], bool]
    """Cheap check on the raw line: False means no field of it can need this redactor."""
    apply: Callable[[str], str]


def _builtin(name: str) -> _Redactor:
    if name == "credit_card":
        label = "[REDACTED:credit_card]"
        return _Redactor(
            name,
            lambda text: _DIGIT_CANDIDATE.search(text) is not None,
            lambda text: _redact_cards(text, label),
        )
    if name == "email":
        label = "[REDACTED:email]"
        return _Redactor(
            name,
            lambda text: "@" in text and _EMAIL_DOMAIN.search(text) is not None,
            lambda text: _redact_emails(text, label),
        )
    if name == "bearer_token":
        sub = r"\g<1>[REDACTED:bearer_token]"
        return _Redactor(
            name,
            lambda text: ("earer" in text or "EARER" in text) and _BEARER.search(text) is not None,
            lambda text: _BEARER.sub(sub, text),
        )
    if name == "password":
        sub = r"\g<1>[REDACTED:password]"
        return _Redactor(name, _has_password_key, lambda text: _PASSWORD.sub(sub, text))
    raise ValueError(f"unknown built-in redactor {name!r} (known: {', '.join(BUILTIN_REDACTORS)})")


def _custom(name: str, pattern: str, replacement: str | None) -> _Redactor:
    compiled = compile_pattern(pattern)
    sub = replacement if replacement is not None else f"[REDACTED:{name}]"
    # An own pattern may use anchors or lookarounds, so a match in a field need not show in
    # the raw line: no prefilter, every string is searched.
    return _Redactor(name, lambda text: True, lambda text: compiled.sub(sub, text))


class Redactor:
    """Applies the configured redactors to records, in place."""

    def __init__(
        self, builtins: Sequence[str], custom: Sequence[tuple[str, str, str | None]] = ()
    ) -> None:
        self.redactors = [_builtin(n) for n in builtins] + [_custom(*c) for c in custom]
        self.always = any(r.name not in BUILTIN_REDACTORS for r in self.redactors)

    def __bool__(self) -> bool:
        return bool(self.redactors)

    def needed(self, line: str) -> bool:
        """Whether a record made of pieces of `line` may hold something to redact."""
        if self.always:
            return True
        return any(r.prefilter(line) for r in self.redactors)

    def redact_text(self, text: str) -> str:
        """`text` with every redactor applied."""
        for r in self.redactors:
            if r.prefilter(text):
                text = r.apply(text)
        return text

    def redact_record(self, entry: LogEntry) -> None:
        """Redacts every string value of a record (nested objects and lists included)."""
        _walk(entry, self.redact_text)


def _walk(root: dict[str, Any], redact: Callable[[str], str]) -> None:
    """Every string in a record, redacted in place (iterative: any depth)."""
    stack: list[dict[str, Any] | list[Any]] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    node[key] = redact(value)  # same keys: safe while iterating
                elif isinstance(value, dict | list):
                    stack.append(value)
        else:
            for index, value in enumerate(node):
                if isinstance(value, str):
                    node[index] = redact(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
