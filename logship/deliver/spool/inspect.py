"""Read-only looks at spool folders, for `logship spool` (the agent may be running meanwhile).

`summarize` walks the frame headers (sizes, counts, times) without reading payloads;
`verify=True` reads every frame and checks its checksum too. Nothing is modified: damage is
reported here and cut off by the agent when it next opens the spool.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from logship.deliver.spool.frame import walk
from logship.deliver.spool.store import STATE_FILE


@dataclass(slots=True)
class SpoolSummary:
    """One spool folder now."""

    name: str
    nbytes: int = 0
    """Bytes on disk: segments and state file."""
    records: int = 0
    """Records not yet delivered."""
    oldest: float = 0.0
    segments: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    last_delivery_at: float = 0.0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """As one JSON object."""
        return {
            "sink": self.name,
            "bytes": self.nbytes,
            "records": self.records,
            "oldest": self.oldest,
            "segments": self.segments,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_delivery_at": self.last_delivery_at,
            "problems": self.problems,
        }


def spool_folders(root: Path) -> list[Path]:
    """Every sink's spool folder under `<data_dir>/spool`."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir())


def summarize(folder: Path, verify: bool = False) -> SpoolSummary:
    """Size, undelivered records, oldest record, last error; with `verify`, every checksum."""
    out = SpoolSummary(folder.name)
    state = _state(folder)
    out.last_error = str(state.get("last_error", ""))
    out.last_error_at = _num(state.get("last_error_at"))
    out.last_delivery_at = _num(state.get("last_delivery_at"))
    for path in sorted(folder.iterdir()):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # delivered and deleted meanwhile
        out.nbytes += size
        if path.suffix != ".seg":
            continue
        out.segments += 1
        skip = (
            int(_num(state.get("offset")))
            if path.stem.isdigit() and int(path.stem) == state.get("seq")
            else 0
        )
        _walk(path, size, skip, verify, out)
    return out


def _walk(path: Path, size: int, skip: int, verify: bool, out: SpoolSummary) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        for item in walk(fd, size, verify):
            if isinstance(item, str):
                out.problems.append(f"{path.name}: {item}")
                return
            if item.end > skip:
                out.records += item.count
                if not out.oldest or item.written_at < out.oldest:
                    out.oldest = item.written_at
    finally:
        os.close(fd)


def _state(folder: Path) -> dict[str, object]:
    try:
        doc = orjson.loads((folder / STATE_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
