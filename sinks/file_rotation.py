"""Rotation of the file sink's output by size and by age: `<path>` is renamed
`<path>.<UTC time>` and a new `<path>` is started.

Rotated names sort in rotation order (`logs.ndjson.20261205T131500123456`), which is what the
exactly-once restore relies on: files rotated after the one the saved length belongs to hold
only lines written after that checkpoint.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from pydantic import Field, model_validator

from logship.core.schema import StrictModel
from logship.core.units import ByteSize, Duration


class RotateSettings(StrictModel):
    """`rotate:` of a file sink: start a new output file past a size or an age."""

    max_bytes: ByteSize | None = Field(None, ge=1)
    """Rotate before a batch that would take the file past this size (a bigger batch still
    goes whole into one file)."""
    interval: Duration | None = Field(None, gt=0)
    """Rotate before a batch once the file has been written to for this long (counted from
    when the agent opened it)."""

    @model_validator(mode="after")
    def _something_to_rotate_on(self) -> RotateSettings:
        if self.max_bytes is None and self.interval is None:
            raise ValueError("expected max_bytes, interval or both")
        return self


def due(settings: RotateSettings, size: int, incoming: int, age: float) -> bool:
    """True when a non-empty file must be rotated before `incoming` more bytes are appended."""
    if size == 0:
        return False
    if settings.max_bytes is not None and size + incoming > settings.max_bytes:
        return True
    return settings.interval is not None and age >= settings.interval


def rotated_name(path: Path) -> Path:
    """A new, unused name for `path` rotated now."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")
    candidate = path.with_name(f"{path.name}.{stamp}")
    n = 0
    while candidate.exists():  # two rotations within a microsecond
        n += 1
        candidate = path.with_name(f"{path.name}.{stamp}-{n}")
    return candidate


def rotated_files(path: Path) -> list[Path]:
    """The rotated copies of `path`, oldest first."""
    prefix = path.name + "."
    try:
        names = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except FileNotFoundError:
        return []
    return sorted(names, key=lambda p: p.name)


def find_by_inode(paths: list[Path], inode: int) -> Path | None:
    """The one of `paths` that is the file with this inode, if any."""
    for candidate in paths:
        try:
            if os.stat(candidate).st_ino == inode:
                return candidate
        except FileNotFoundError:
            continue
    return None
