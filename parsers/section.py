"""The `parsers:` section of the agent config: rules, rule packs, grok patterns, redaction.

    parsers:
      timezone: UTC                 # zone of timestamps without an offset (rules may override)
      include: ["parsers.d/"]       # rule pack files, folders or globs (relative to the config)
      patterns: {MYAPP_ID: '...'}   # grok patterns added to (or replacing) the shipped library
      redact: {builtins: [credit_card, password], patterns: [...]}
      rules: [...]                  # inline rules

A plain list (`parsers: [rule, ...]`) is short for `parsers: {rules: [...]}`.

Rules are found by name: inline and pack rules first, then the built-in pack shipped with
logship, so a rule of yours named like a built-in one replaces it. Two rules of yours with one
name are an error. Every rule of yours is compiled when the config loads (errors name the rule,
the setting and the position); built-in rules are compiled when an input uses them.

The `include` files are read by the config loader and handed over in the validation context
(`parsers.pack.RULE_PACKS_CONTEXT`): validating the section reads no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from logship.core.schema import GlobPattern, StrictModel
from parsers.compiler import compile_rule
from parsers.config import RedactSettings, RuleSettings
from parsers.grok import GrokError, GrokLibrary, load_builtin_patterns
from parsers.pack import (
    RULE_PACKS_CONTEXT,
    IncludedPacks,
    LoadedPack,
    PackError,
    builtin_packs,
    check_pattern_names,
    load_included,
)
from parsers.pattern import PatternError, compile_rule_pattern
from parsers.rule import RuleError
from parsers.timestamp import load_zone


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A rule known by name, and where it was defined (`parsers.rules[2]`, a file, `built-in:...`)."""

    settings: RuleSettings
    origin: str
    builtin: bool


def located_error(errors: list[tuple[tuple[str | int, ...], str, Any]]) -> ValidationError:
    """A ValidationError whose problems sit at the given locations (below the current model)."""
    return ValidationError.from_exception_data(
        "ParsersSettings",
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", "Value error, {message}", {"message": m}),
                loc=loc,
                input=value,
            )
            for loc, m, value in errors
        ],
    )


class ParsersSettings(StrictModel):
    """The `parsers:` section (see the module docstring)."""

    timezone: str = "UTC"
    include: list[GlobPattern] = Field(
        default_factory=list,
        json_schema_extra={"expected": "a list of rule pack files, folders or globs"},
    )
    patterns: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of NAME to regular expression"},
    )
    redact: RedactSettings = Field(default_factory=RedactSettings)
    rules: list[RuleSettings] = Field(
        default_factory=list, json_schema_extra={"expected": "a list of parser rules"}
    )

    _catalog: dict[str, CatalogEntry] = PrivateAttr(default_factory=dict)
    _library: GrokLibrary = PrivateAttr(default_factory=lambda: GrokLibrary({}))

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("patterns")
    @classmethod
    def _pattern_names(cls, value: dict[str, str]) -> dict[str, str]:
        check_pattern_names(value)
        return value

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> ParsersSettings:
        errors: list[tuple[tuple[str | int, ...], str, Any]] = []
        packs: list[tuple[int, LoadedPack]] = []
        given: dict[int, IncludedPacks] = (info.context or {}).get(RULE_PACKS_CONTEXT, {})
        for index, entry in enumerate(self.include):
            included = given.get(index)
            if included is None:
                # The config loader reads the files (logship.app.rule_packs); parsers do no I/O.
                errors.append((("include", index), f"{entry}: the file was not read", entry))
                continue
            try:
                packs.extend((index, loaded) for loaded in load_included(included))
            except PackError as exc:
                errors.append((("include", index), str(exc), entry))
        if errors:
            raise located_error(errors)

        builtins = builtin_packs()
        shipped: dict[str, str] = load_builtin_patterns()
        for loaded in builtins:
            shipped.update(loaded.pack.patterns)
        own: dict[str, str] = {}
        own_origin: dict[str, str] = {}
        for index, loaded in packs:
            for name, body in loaded.pack.patterns.items():
                if name in own:
                    errors.append(
                        (
                            ("include", index),
                            f"{loaded.origin}: pattern {name!r} is also defined in {own_origin[name]}",
                            name,
                        )
                    )
                own[name] = body
                own_origin[name] = loaded.origin
        for name, body in self.patterns.items():
            if name in own:
                errors.append(
                    (("patterns", name), f"{name!r} is also defined in {own_origin[name]}", body)
                )
            own[name] = body
            own_origin[name] = "parsers.patterns"
        library = GrokLibrary(shipped).extended(own)
        for name, body in self.patterns.items():
            problem = _pattern_problem(library, name)
            if problem:
                errors.append((("patterns", name), problem, body))

        catalog: dict[str, CatalogEntry] = {}
        for loaded in builtins:
            for rule in loaded.pack.rules:
                catalog[rule.name] = CatalogEntry(rule, loaded.origin, builtin=True)
        for index, loaded in packs:
            for position, rule in enumerate(loaded.pack.rules):
                origin = f"{loaded.origin}: rules[{position}]"
                previous = catalog.get(rule.name)
                if previous is not None and not previous.builtin:
                    errors.append(
                        (
                            ("include", index),
                            f"{origin}: rule name {rule.name!r} is also used by {previous.origin}",
                            rule.name,
                        )
                    )
                catalog[rule.name] = CatalogEntry(rule, origin, builtin=False)
                try:
                    compile_rule(rule, library, self.timezone)
                except RuleError as exc:
                    errors.append(
                        (("include", index), f"{origin}.{exc.key} ({rule.name}): {exc}", rule.name)
                    )
        for position, rule in enumerate(self.rules):
            previous = catalog.get(rule.name)
            if previous is not None and not previous.builtin:
                errors.append(
                    (
                        ("rules", position, "name"),
                        f"{rule.name!r} is also used by {previous.origin}; names must be unique",
                        rule.name,
                    )
                )
            catalog[rule.name] = CatalogEntry(rule, f"parsers.rules[{position}]", builtin=False)
            try:
                compile_rule(rule, library, self.timezone)
            except RuleError as exc:
                errors.append((("rules", position, *exc.key.split(".")), str(exc), rule.name))
        if errors:
            raise located_error(errors)
        self._catalog = catalog
        self._library = library
        return self

    # --- queries ---------------------------------------------------------------------------

    @property
    def library(self) -> GrokLibrary:
        """The grok library: shipped patterns, built-in pack patterns, yours."""
        return self._library

    def rule_names(self) -> list[str]:
        """Every rule known by name (yours and the built-in ones), sorted."""
        return sorted(self._catalog)

    def entry(self, name: str) -> CatalogEntry | None:
        """The rule of that name, or None."""
        return self._catalog.get(name)

    def rule(self, name: str) -> RuleSettings:
        """The settings of the rule of that name (KeyError if unknown)."""
        return self._catalog[name].settings

    def check_builtin(self, name: str) -> str | None:
        """Compiles a built-in rule with this config's patterns; the problem, or None."""
        entry = self._catalog[name]
        try:
            compile_rule(entry.settings, self._library, self.timezone)
        except RuleError as exc:
            return f"{entry.origin} rule {name!r} does not compile with this config's patterns: {exc.key}: {exc}"
        return None


def unknown_key_message(loc: tuple[Any, ...]) -> str:
    """`unknown key` with the allowed keys, for a location inside a rule (`(0, "timestamp", "x")`)."""
    import difflib
    import typing

    from pydantic import BaseModel

    model: Any = RuleSettings
    for part in loc[1:-1]:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part)
        annotation = info.annotation if info else None
        model = None
        for candidate in (annotation, *typing.get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
    if model is None:
        return "unknown key"
    allowed = sorted(info.alias or name for name, info in model.model_fields.items())
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; expected one of: {', '.join(allowed)}"


def _pattern_problem(library: GrokLibrary, name: str) -> str | None:
    body = library.patterns[name]
    try:
        expansion = library.expand(body)
    except GrokError as exc:
        return str(exc)
    try:
        compile_rule_pattern(expansion.regex)
    except PatternError as exc:
        if exc.position is None:
            return f"pattern {exc}"
        reason = str(exc).split(": ", 1)[-1]
        return f"pattern does not compile ({reason}) {expansion.locate(exc.position)}"
    return None
