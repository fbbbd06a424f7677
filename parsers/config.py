"""Config of parser rules (the `parsers:` section). Everything is checked when the config loads."""

from __future__ import annotations

import re
from typing import Literal

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
