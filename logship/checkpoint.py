"""The checkpoint store: per file, the acknowledged offset, persisted atomically.

Format (versioned JSON, one file `registry.json` in the data directory):

    {"version": 1, "files": {"<file key>": {"path": ..., "offset": ..., "fingerprint": ...,
                                            "fingerprint_bytes": ..., "updated": <unix time>,
                                            "seen": <unix time>}}}

Writes go to a temp file that is fsynced, then renamed over the old one, then the directory is
fsynced: a crash leaves either the old or the new registry, never a torn one. A registry that is
torn or corrupt anyway (disk trouble, a hand edit) is reported at start-up, not trusted.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

VERSION = 1
FILE_NAME = "registry.json"


class CheckpointError(Exception):
    """The registry cannot be read or written; the message says which file and what to do."""


@dataclass(frozen=True, slots=True)
class FileCheckpoint:
    """Where reading of one file resumes: every line below `offset` was acknowledged by every sink."""

    path: str
    offset: int
    fingerprint: str
    fingerprint_bytes: int
    updated: float
    seen: float = 0.0
    """When a scan last found the file (Unix time); entries unseen for `clean_removed_after` go."""


class CheckpointStore:
    """Loads and saves the registry file in the data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        self._last_saved: dict[str, FileCheckpoint] | None = None

    def load(self) -> dict[str, FileCheckpoint]:
        """The saved checkpoints by file key; empty if there is no registry yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._last_saved = {}
            return {}
        except OSError as exc:
            raise CheckpointError(
                f"Cannot read checkpoint file {self.path}: {exc.strerror}."
            ) from exc
        entries = self._decode(raw)
        self._last_saved = dict(entries)
        return entries

    def _decode(self, raw: bytes) -> dict[str, FileCheckpoint]:
        hint = (
            "Move it aside to start without checkpoints (files are then read per start_at, "
            "which can re-ship or skip lines)."
        )
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CheckpointError(
                f"Checkpoint file {self.path} is corrupt (not valid JSON: {exc}). {hint}"
            ) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
            raise CheckpointError(
                f"Checkpoint file {self.path} is corrupt (expected an object with 'files'). {hint}"
            )
        if doc.get("version") != VERSION:
            raise CheckpointError(
                f"Checkpoint file {self.path} has version {doc.get('version')!r}; this agent "
                f"reads version {VERSION}. {hint}"
            )
        entries: dict[str, FileCheckpoint] = {}
        for key, value in doc["files"].items():
            try:
                entries[key] = FileCheckpoint(
                    path=str(value["path"]),
                    offset=int(value["offset"]),
                    fingerprint=str(value.get("fingerprint", "")),
                    fingerprint_bytes=int(value.get("fingerprint_bytes", 0)),
                    updated=float(value.get("updated", 0.0)),
                    seen=float(value.get("seen", value.get("updated", 0.0))),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise CheckpointError(
                    f"Checkpoint file {self.path} is corrupt (entry {key!r}: {exc!r}). {hint}"
                ) from exc
            if entries[key].offset < 0:
                raise CheckpointError(
                    f"Checkpoint file {self.path} is corrupt (entry {key!r} has a negative offset). {hint}"
                )
        return entries

    def save(self, entries: dict[str, FileCheckpoint]) -> bool:
        """Writes the registry atomically; skips the write when nothing changed. True if written."""
        if entries == self._last_saved:
            return False
        doc = {"version": VERSION, "files": {key: asdict(cp) for key, cp in entries.items()}}
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            self._fsync_dir()
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CheckpointError(
                f"Cannot write checkpoint file {self.path}: {exc.strerror}."
            ) from exc
        self._last_saved = dict(entries)
        return True

    def _fsync_dir(self) -> None:
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
