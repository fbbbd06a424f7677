"""Read-only looks at spool folders, for `logship spool` (the agent may be running meanwhile).

`summarize` walks the frame headers (sizes, counts, times) without reading payloads;
`verify=True` reads every frame and checks its checksum too. Nothing is modified: damage is
reported here and cut off by the agent when it next opens the spool.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from logship.deliver.spool.frame import HEADER, MAGIC, MAX_PAYLOAD
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
        if os.pread(fd, len(MAGIC), 0) != MAGIC:
            out.problems.append(f"{path.name}: not a spool segment (bad magic)")
            return
        pos = len(MAGIC)
        while pos < size:
            head = os.pread(fd, HEADER.size, pos)
            if len(head) < HEADER.size:
                out.problems.append(f"{path.name}: torn frame header at offset {pos}")
                return
            length, crc, count, written_at = HEADER.unpack(head)
            end = pos + HEADER.size + length
            if length >= MAX_PAYLOAD or end > size:
                out.problems.append(f"{path.name}: torn or corrupt frame at offset {pos}")
                return
            if verify:
                payload = os.pread(fd, length, pos + HEADER.size)
                body = struct.pack("<Id", count, written_at)
                if zlib.crc32(payload, zlib.crc32(body)) != crc:
                    out.problems.append(f"{path.name}: checksum mismatch at offset {pos}")
                    return
            if end > skip:
                out.records += count
                if not out.oldest or written_at < out.oldest:
                    out.oldest = written_at
            pos = end
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
