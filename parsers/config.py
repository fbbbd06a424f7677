"""Config of parser rules (the `parsers:` section). Everything is checked when the config loads."""

from __future__ import annotations

import importlib
import re
from typing import Any, Literal

import regex
from pydantic import Field, field_validator, model_validator

from logship.schema import StrictModel
from parsers.timestamp import load_zone, validate_format

FieldType = Literal["int", "float", "bool", "string"]


class TimestampSettings(StrictModel):
    """Which captured field holds the event time, and how to read it."""

    field: str = Field(min_length=1)
    format: list[str] = Field(min_length=1)
    timezone: str = "UTC"

    @field_validator("format", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("format")
    @classmethod
    def _formats_work(cls, value: list[str]) -> list[str]:
        for fmt in value:
            validate_format(fmt)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        load_zone(value)
        return value


class RegexRuleSettings(StrictModel):
    """A rule: a regular expression whose named groups become the record's fields."""

    name: str = Field(min_length=1)
    regex: str = Field(min_length=1)
    types: dict[str, FieldType] = Field(default_factory=dict)
    timestamp: TimestampSettings | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_pattern(value)
        return value

    @model_validator(mode="after")
    def _fields_exist(self) -> RegexRuleSettings:
        groups = set(compile_pattern(self.regex).groupindex)
        if not groups:
            raise ValueError(
                "regex has no named groups; capture fields with named groups like (?P<status>\\d{3})"
            )
        for name in self.types:
            if name not in groups:
                raise ValueError(
                    f"types names field {name!r}, which the regex does not capture "
                    f"(captured: {', '.join(sorted(groups))})"
                )
        if self.timestamp and self.timestamp.field not in groups:
            raise ValueError(
                f"timestamp.field {self.timestamp.field!r} is not captured by the regex "
                f"(captured: {', '.join(sorted(groups))})"
            )
        return self


def compile_pattern(pattern: str) -> re.Pattern[str] | regex.Pattern[str]:
    """Compiles with `re` when it can (faster for most rules), else with `regex` (richer syntax).

    Raises ValueError naming the position when neither compiles; the `regex` module's message is
    the one reported because its syntax is the documented one.
    """
    try:
        return re.compile(pattern)
    except re.error:
        pass
    try:
        return regex.compile(pattern, flags=regex.VERSION0)
    except regex.error as exc:
        pos = getattr(exc, "pos", None)
        where = f" at position {pos}" if pos is not None else ""
        raise ValueError(f"regex does not compile{where}: {getattr(exc, 'msg', exc)}") from exc


def optional_groups(pattern: re.Pattern[str] | regex.Pattern[str]) -> set[str]:
    """Named groups that may not take part in a match (inside `?`, `*`, `{0,n}` or an alternation).

    Only those can come back as None, so only those need checking per line. Patterns compiled by
    the `regex` module are not analysed: all their groups count as optional.
    """
    if not isinstance(pattern, re.Pattern):
        return set(pattern.groupindex)
    sre_parse: Any = importlib.import_module("re._parser")  # CPython's own parser of re syntax

    names = {number: name for name, number in pattern.groupindex.items()}
    optional: set[int] = set()

    def walk(items: Any, maybe: bool) -> None:
        for op, arg in items:
            name = str(op)
            if name == "SUBPATTERN":
                group, _, _, sub = arg
                if maybe and group is not None:
                    optional.add(group)
                walk(sub, maybe)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, _, sub = arg
                walk(sub, maybe or low == 0)
            elif name == "BRANCH":
                for sub in arg[1]:
                    walk(sub, True)
            elif name in ("ASSERT", "ASSERT_NOT"):
                walk(arg[1], True)
            elif name == "GROUPREF_EXISTS":
                for sub in arg[1:]:
                    if sub is not None:
                        walk(sub, True)
            elif name == "ATOMIC_GROUP":
                walk(arg, maybe)

    walk(sre_parse.parse(pattern.pattern, pattern.flags), False)
    return {names[g] for g in optional if g in names}
