"""Rule packs: YAML files of rules and grok patterns (`config/parsers.d/*.yaml`, and the built-in
pack inside the package, `parsers/rules/*.yaml`).

    description: what these rules are for
    patterns:
      MYAPP_ID: '[A-Z]{3}-\\d+'
    rules:
      - name: myapp
        grok: '%{TIMESTAMP_ISO8601:ts} %{MYAPP_ID:myapp.id} %{GREEDYDATA:message}'
        timestamp: {field: ts, format: ISO8601}
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
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


def parse_pack(text: str, origin: str) -> RulePack:
    """Validates the text of a pack; PackError lists every problem with `origin`."""
    try:
        doc = strict_yaml.load(text)
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


def load_pack_file(path: Path) -> LoadedPack:
    """Reads and validates one pack file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{path}: cannot read the file: {exc}") from None
    return LoadedPack(str(path), parse_pack(text, str(path)))


def pack_files(entry: str) -> list[Path]:
    """The files an `include` entry names: a file, a folder (its *.yaml / *.yml) or a glob.

    A plain path that does not exist is an error; a glob matching nothing is not (an empty
    `parsers.d/` is fine).
    """
    path = Path(entry)
    if glob.has_magic(entry):
        return [Path(p) for p in sorted(glob.glob(entry)) if Path(p).is_file()]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if path.is_file():
        return [path]
    raise PackError(f"{entry}: no such file or folder")


def load_builtin_packs() -> list[LoadedPack]:
    """The built-in rule pack shipped in the package (every `parsers/rules/*.yaml`)."""
    folder = resources.files("parsers.rules")
    packs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            origin = f"built-in:{entry.name}"
            packs.append(LoadedPack(origin, parse_pack(entry.read_text(encoding="utf-8"), origin)))
    return packs


_BUILTIN_CACHE: list[LoadedPack] = []


def builtin_packs() -> list[LoadedPack]:
    """The built-in packs, read once per process (they are package data and never change)."""
    if not _BUILTIN_CACHE:
        _BUILTIN_CACHE.extend(load_builtin_packs())
    return list(_BUILTIN_CACHE)
