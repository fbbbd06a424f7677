"""Rule packs: YAML files of rules and grok patterns (`config/parsers.d/*.yaml`, and the built-in
pack inside the package, `parsers/rules/*.yaml`).

    description: what these rules are for
    patterns:
      MYAPP_ID: '[A-Z]{3}-\\d+'
    rules:
      - name: myapp
        grok: '%{TIMESTAMP_ISO8601:ts} %{MYAPP_ID:myapp.id} %{GREEDYDATA:message}'
        timestamp: {field: ts, format: ISO8601}

The files named by `parsers.include` are read by the config loader (`logship.app.rule_packs`), which
hands their text to the `parsers:` section in the validation context (`RULE_PACKS_CONTEXT`):
parsers do no file I/O. The built-in pack is package data, read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from logship.core import strict_yaml
from logship.core.errors import LogshipError
from logship.core.schema import StrictModel
from parsers.config import RuleSettings
from parsers.grok import PATTERN_NAME


class PackError(LogshipError, ValueError):
    """A rule pack that cannot be loaded; one line per problem, each naming the file."""


class RulePack(StrictModel):
    """The content of one rule pack file."""

    description: str = ""
    patterns: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of NAME to regular expression"},
    )
    rules: list[RuleSettings] = Field(
        default_factory=list, json_schema_extra={"expected": "a list of rules"}
    )

    @field_validator("patterns")
    @classmethod
    def _pattern_names(cls, value: dict[str, str]) -> dict[str, str]:
        check_pattern_names(value)
        return value


def check_pattern_names(patterns: dict[str, str]) -> None:
    """Grok pattern names are identifiers (`MYAPP_ID`)."""
    for name in patterns:
        if not PATTERN_NAME.match(name):
            raise ValueError(f"{name!r} is not a pattern name (use letters, digits and _)")


@dataclass(frozen=True, slots=True)
class LoadedPack:
    """A pack and where it came from (a file path, or `built-in:<file>`)."""

    origin: str
    pack: RulePack


def parse_pack(text: str, origin: str, builtin: bool = False) -> RulePack:
    """Validates the text of a pack; PackError lists every problem with `origin`.

    `builtin`: a pack shipped in the package (read with the fast YAML parser)."""
    try:
        doc = strict_yaml.load(text, fast=builtin)
    except yaml.YAMLError as exc:
        raise PackError(f"{origin}: {strict_yaml.describe_error(exc)}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PackError(f"{origin}: expected a mapping with `rules:` (and optionally `patterns:`)")
    try:
        return RulePack.model_validate(doc)
    except ValidationError as exc:
        problems = [f"{origin}: {_describe(err, doc)}" for err in exc.errors()]
        raise PackError("\n".join(problems)) from None


def _describe(err: Any, doc: Any) -> str:
    loc: tuple[Any, ...] = tuple(err["loc"])
    where = ""
    label = ""
    node = doc
    for part in loc:
        if isinstance(part, int):
            where += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                label = node["name"]
        else:
            where = f"{where}.{part}" if where else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    if label:
        where = f"{where} ({label})"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


RULE_PACKS_CONTEXT = "rule_packs"
"""The validation-context key under which the config loader hands the `include` entries' packs
to `ParsersSettings`: a dict from an entry's position in `include` to its `IncludedPacks`."""


@dataclass(frozen=True, slots=True)
class PackText:
    """The text of one rule pack file, as the config loader read it; `origin` is its path."""

    origin: str
    text: str


@dataclass(frozen=True, slots=True)
class IncludedPacks:
    """What one `include` entry named: the texts of its files in order, or why they are missing."""

    texts: tuple[PackText, ...] = ()
    error: str | None = None
    """A file or folder that does not exist, a file that cannot be read (the message names it)."""


def load_included(included: IncludedPacks) -> list[LoadedPack]:
    """Validates the packs of one `include` entry; PackError for the first that cannot be used."""
    # The files read before a missing one are checked first: problems come in file order.
    loaded = [LoadedPack(t.origin, parse_pack(t.text, t.origin)) for t in included.texts]
    if included.error is not None:
        raise PackError(included.error)
    return loaded


def load_builtin_packs() -> list[LoadedPack]:
    """The built-in rule pack shipped in the package (every `parsers/rules/*.yaml`)."""
    folder = resources.files("parsers.rules")
    packs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            origin = f"built-in:{entry.name}"
            text = entry.read_text(encoding="utf-8")
            packs.append(LoadedPack(origin, parse_pack(text, origin, builtin=True)))
    return packs


_BUILTIN_CACHE: list[LoadedPack] = []


def builtin_packs() -> list[LoadedPack]:
    """The built-in packs, read once per process (they are package data and never change)."""
    if not _BUILTIN_CACHE:
        _BUILTIN_CACHE.extend(load_builtin_packs())
    return list(_BUILTIN_CACHE)
