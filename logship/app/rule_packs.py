"""Reading the rule pack files a config's `parsers.include` names, for the config loader.

`parsers` does no file I/O: the loader reads the files here, before validation, and hands their
text to the `parsers:` section in the validation context (`parsers.pack.RULE_PACKS_CONTEXT`).
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from logship.core.schema import resolve_against
from parsers.pack import RULE_PACKS_CONTEXT, IncludedPacks, PackText


def rule_packs_context(doc: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """The validation context entry for a config document: every `parsers.include` entry read.

    Entries that are not strings are left out: validation reports them as they are.
    """
    section = doc.get("parsers")
    include = section.get("include") if isinstance(section, Mapping) else None
    if not isinstance(include, list):
        return {}
    return {RULE_PACKS_CONTEXT: read_include(include, base_dir)}


def read_include(include: list[Any], base_dir: Path | None) -> dict[int, IncludedPacks]:
    """The packs of each `include` entry (a file, a folder, a glob), by position."""
    return {
        index: read_entry(str(resolve_against(Path(entry), base_dir)) if entry else entry)
        for index, entry in enumerate(include)
        if isinstance(entry, str)
    }


def read_entry(entry: str) -> IncludedPacks:
    """The texts of the files an entry names, or the first reason one cannot be had."""
    try:
        files = pack_files(entry)
    except FileNotFoundError:
        return IncludedPacks(error=f"{entry}: no such file or folder")
    texts = []
    for path in files:
        try:
            texts.append(PackText(str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            return IncludedPacks(tuple(texts), error=f"{path}: cannot read the file: {exc}")
    return IncludedPacks(tuple(texts))


def pack_files(entry: str) -> list[Path]:
    """The files an `include` entry names: a file, a folder (its *.yaml / *.yml) or a glob.

    A plain path that does not exist is an error (FileNotFoundError); a glob matching nothing
    is not (an empty `parsers.d/` is fine).
    """
    path = Path(entry)
    if glob.has_magic(entry):
        return [Path(p) for p in sorted(glob.glob(entry)) if Path(p).is_file()]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if path.is_file():
        return [path]
    raise FileNotFoundError(entry)
