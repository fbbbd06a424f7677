"""The base of every config model: unknown keys are errors, settings are immutable once loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo


class StrictModel(BaseModel):
    """Config model base: `extra="forbid"` (a typo is an error, not a silently ignored key), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolves a relative path against the config file's folder (given in the validation context)."""
    return resolve_against(value, (info.context or {}).get("base_dir"))


def resolve_against(value: Path, base: Path | str | None) -> Path:
    """`value` relative to `base` (unchanged when absolute or without a base)."""
    if base is None or value.is_absolute():
        return value
    return Path(os.path.normpath(Path(base) / value))


def resolve_glob(value: str, info: ValidationInfo) -> str:
    """Resolves a relative glob pattern against the config file's folder."""
    return str(resolve_path(Path(value), info)) if value else value


ConfigPath = Annotated[Path, AfterValidator(resolve_path)]
"""A file system path; relative paths are relative to the folder of the config file."""

GlobPattern = Annotated[str, AfterValidator(resolve_glob)]
"""A glob (`*`, `?`, `[..]`, `**`); relative patterns are relative to the folder of the config file."""


def check_unique_names(problems: list[str], section: str, names: list[str]) -> None:
    """Adds a problem for each name of `section` used a second time."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            problems.append(
                f"{section}[{index}].name: {name!r} is used twice; names must be unique"
            )
        seen.add(name)
