"""Settings of one parser rule, as written in the agent config or a rule pack (`rules:` entries).

Structure is checked here; what needs the grok library (expanding, compiling, checking that
`types`, `timestamp.field` ... name captured fields) is checked by `parsers.compiler.compile_rule`,
which the `parsers:` section runs on every rule when the config loads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from logship.core.schema import StrictModel
from parsers.condition import ConditionSettings
from parsers.grok import TYPE_ALIASES
from parsers.redaction import BUILTIN_REDACTORS
from parsers.timestamp import load_zone, validate_format

FieldType = Literal["int", "float", "bool", "string"]
RuleType = Literal["regex", "grok", "json", "logfmt"]
Scalar = str | int | float | bool

RULE_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


class TimestampSettings(StrictModel):
    """Which field holds the event time, and how to read it."""

    field: list[str] = Field(
        min_length=1, json_schema_extra={"expected": "a field name or a list of candidates"}
    )
    format: list[str] = Field(
        default=["ISO8601"],
        min_length=1,
        json_schema_extra={"expected": "a format or a list of formats"},
    )
    timezone: str | None = None
    """Zone of times without an offset; None: `parsers.timezone`."""

    @field_validator("field", "format", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return _one_or_many(value)

    @field_validator("format")
    @classmethod
    def _formats_work(cls, value: list[str]) -> list[str]:
        for fmt in value:
            validate_format(fmt)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str | None) -> str | None:
        if value is not None:
            load_zone(value)
        return value


class LevelSettings(StrictModel):
    """Which field holds the log level, and how its values map to trace ... fatal."""

    field: list[str] = Field(
        min_length=1, json_schema_extra={"expected": "a field name or a list of candidates"}
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of the log's level names to trace, debug, ..."},
    )
    syslog_priority: bool = False
    """The field holds a syslog PRI (facility * 8 + severity): the level is its severity, and
    `log.syslog.facility.code`, `log.syslog.severity.code` / `.name` are added."""

    @field_validator("field", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return _one_or_many(value)


class RuleSettings(StrictModel):
    """A parser rule: how one kind of line becomes a record."""

    name: str = Field(min_length=1, pattern=RULE_NAME_PATTERN)
    description: str = ""
    type: RuleType | None = None
    """regex / grok (inferred from the key that is set), json or logfmt."""
    regex: str | None = Field(None, min_length=1)
    grok: str | None = Field(None, min_length=1)
    types: dict[str, FieldType] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of field name to int, float, bool or string"},
    )
    """Conversions; grok's names (`integer`, `long`, `double`, `boolean`, `keyword`) are accepted
    and stored as the four above."""
    map_values: dict[str, dict[str, Scalar]] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of field name to {value: new value}"},
    )
    """Replaces values of a field (`{event.outcome: {Accepted: success}}`); others stay."""
    copy_fields: dict[str, str] = Field(
        default_factory=dict,
        alias="copy",
        json_schema_extra={"expected": "a mapping of field name to the field it is copied to"},
    )
    """`{source.ip: source.address}`: the value is copied when the target is not set already."""
    timestamp: TimestampSettings | None = None
    level: LevelSettings | None = None
    message: list[str] | None = Field(
        None, json_schema_extra={"expected": "a field name or a list of candidates"}
    )
    add: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of field name to a value"},
    )
    rename: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of field name to new field name"},
    )
    remove: list[str] = Field(
        default_factory=list, json_schema_extra={"expected": "a list of field names"}
    )
    derive: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of captured field name to a derivation name"},
    )
    """`{nginx.access.remote_ip_list: forwarded_for}`: fields derived from a captured field
    (`parsers.derive`)."""
    drop_if: ConditionSettings | None = None
    tags: list[str] = Field(default_factory=list, json_schema_extra={"expected": "a list of tags"})

    @field_validator("types", mode="before")
    @classmethod
    def _grok_type_names(cls, value: object) -> object:
        # The same names as `%{NAME:field:type}`, so a type can move between the two forms.
        if isinstance(value, dict):
            return {
                k: TYPE_ALIASES.get(v, v) if isinstance(v, str) else v for k, v in value.items()
            }
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _level_shorthand(cls, value: object) -> object:
        return {"field": value} if isinstance(value, str | list) else value

    @field_validator("message", mode="before")
    @classmethod
    def _message_one_or_many(cls, value: object) -> object:
        return _one_or_many(value)

    @field_validator("derive")
    @classmethod
    def _known_derivations(cls, value: dict[str, str]) -> dict[str, str]:
        from parsers.derive import DERIVATIONS

        for name in value.values():
            if name not in DERIVATIONS:
                raise ValueError(
                    f"unknown derivation {name!r}; expected one of: {', '.join(DERIVATIONS)}"
                )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> RuleSettings:
        given = [k for k in ("regex", "grok") if getattr(self, k) is not None]
        if self.type in ("json", "logfmt"):
            if given:
                raise ValueError(f"a {self.type} rule takes no {given[0]}; remove it or the type")
            return self
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of: regex (named groups), grok (%{PATTERN:field}), "
                "or type: json / logfmt"
            )
        if self.type is not None and self.type != given[0]:
            raise ValueError(f"type is {self.type!r} but the rule has a {given[0]}")
        return self

    @property
    def kind(self) -> RuleType:
        """regex, grok, json or logfmt."""
        if self.type is not None:
            return self.type
        return "regex" if self.regex is not None else "grok"


class RedactPattern(StrictModel):
    """An own redaction pattern: what it matches is replaced."""

    name: str = Field(min_length=1, pattern=RULE_NAME_PATTERN)
    regex: str = Field(min_length=1)
    replacement: str | None = None
    """re.sub replacement (`\\1` group references allowed); default `[REDACTED:<name>]`."""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        from parsers.pattern import PatternError, compile_pattern

        try:
            compile_pattern(value)
        except PatternError as exc:
            raise ValueError(f"regex {exc}") from None
        return value


class RedactSettings(StrictModel):
    """What is redacted from every record before it is shipped."""

    builtins: list[Literal["credit_card", "email", "bearer_token", "password"]] = Field(
        default_factory=list,
        json_schema_extra={"expected": f"a list of: {', '.join(BUILTIN_REDACTORS)}"},
    )
    patterns: list[RedactPattern] = Field(
        default_factory=list, json_schema_extra={"expected": "a list of {name, regex}"}
    )
