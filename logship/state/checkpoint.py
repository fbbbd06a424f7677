"""The checkpoint store: per file, the acknowledged offset, persisted atomically.

Format (versioned JSON, one file `registry.json` in the data directory):

    {"version": 1, "files": {"<file key>": {"path": ..., "offset": ..., "fingerprint": ...,
                                            "fingerprint_bytes": ..., "updated": <unix time>,
                                            "seen": <unix time>}},
     "sinks": {"<sink name>": {"length": ..., "inode": ...}}}

`sinks` (optional) holds the state of exactly-once file sinks that belongs with these offsets:
the output file's length that matches them, written in the same atomic write.

Writes go to a temp file that is fsynced, then renamed over the old one, then the directory is
fsynced: a crash leaves either the old or the new registry, never a torn one. The registry that
was replaced stays as `registry.json.bak` (a hard link taken before the rename, so there is no
moment without a registry): the last good copy. A registry that is torn or corrupt anyway
(disk trouble, a hand edit) is reported at start-up; the last good copy is used instead when it
is sound (it is at most one checkpoint older, which only means re-reading a little more), and
the agent refuses to start when neither is.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from logship.core.durable import write_all
from logship.core.errors import LogshipError

VERSION = 1
FILE_NAME = "registry.json"
BACKUP_SUFFIX = ".bak"

log = logging.getLogger(__name__)


class CheckpointError(LogshipError):
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
    """Loads and saves the registry file in the data directory (and its last good copy)."""

    def __init__(self, data_dir: Path, name: str = FILE_NAME) -> None:
        self.path = data_dir / name
        self.backup = data_dir / (name + BACKUP_SUFFIX)
        self.recovered_from: Path | None = None
        """Set when `load` had to fall back to the last good copy."""
        self._last_saved: dict[str, FileCheckpoint] | None = None
        self.sink_states: dict[str, dict[str, int]] = {}
        """The `sinks` section as loaded (or last saved)."""
        self._last_sinks: dict[str, dict[str, int]] = {}

    def load(self) -> dict[str, FileCheckpoint]:
        """The saved checkpoints by file key; empty if there is no registry yet."""
        try:
            entries = self._load_file(self.path)
        except FileNotFoundError:
            if not self.backup.exists():
                self._last_saved = {}
                return {}
            entries = self._fall_back(f"Checkpoint file {self.path} is missing.")
        except CheckpointError as exc:
            entries = self._fall_back(str(exc))
        self._last_saved = dict(entries)
        return entries

    def _fall_back(self, problem: str) -> dict[str, FileCheckpoint]:
        try:
            entries = self._load_file(self.backup)
        except FileNotFoundError:
            raise CheckpointError(
                f"{problem} There is no last good copy ({self.backup})."
            ) from None
        except CheckpointError as exc:
            raise CheckpointError(f"{problem} The last good copy is unusable too: {exc}") from None
        log.error(
            "Checkpoint file unusable; using the last good copy (at most one checkpoint older).",
            extra={"problem": problem, "copy": str(self.backup), "files": len(entries)},
        )
        self.recovered_from = self.backup
        return entries

    def _load_file(self, path: Path) -> dict[str, FileCheckpoint]:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise CheckpointError(f"Cannot read checkpoint file {path}: {exc.strerror}.") from exc
        return self._decode(raw, path)

    def _decode(self, raw: bytes, path: Path) -> dict[str, FileCheckpoint]:
        hint = (
            "Move it aside to start without checkpoints (files are then read per start_at, "
            "which can re-ship or skip lines)."
        )
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CheckpointError(
                f"Checkpoint file {path} is corrupt (not valid JSON: {exc}). {hint}"
            ) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
            raise CheckpointError(
                f"Checkpoint file {path} is corrupt (expected an object with 'files'). {hint}"
            )
        if doc.get("version") != VERSION:
            raise CheckpointError(
                f"Checkpoint file {path} has version {doc.get('version')!r}; this agent "
                f"reads version {VERSION}. {hint}"
            )
        sinks = doc.get("sinks", {})
        if not isinstance(sinks, dict) or not all(
            isinstance(v, dict) and all(isinstance(n, int) for n in v.values())
            for v in sinks.values()
        ):
            raise CheckpointError(
                f"Checkpoint file {path} is corrupt (expected 'sinks' to map names to numbers). "
                f"{hint}"
            )
        self.sink_states = sinks
        self._last_sinks = sinks
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
                    f"Checkpoint file {path} is corrupt (entry {key!r}: {exc!r}). {hint}"
                ) from exc
            if entries[key].offset < 0:
                raise CheckpointError(
                    f"Checkpoint file {path} is corrupt (entry {key!r} has a negative offset). {hint}"
                )
        return entries

    def save(
        self, entries: dict[str, FileCheckpoint], sinks: dict[str, dict[str, int]] | None = None
    ) -> bool:
        """Writes the registry (and `sinks` states, when given) atomically; skips the write when
        nothing changed. True if written."""
        sinks = self._last_sinks if sinks is None else sinks
        if entries == self._last_saved and sinks == self._last_sinks:
            return False
        doc: dict[str, object] = {
            "version": VERSION,
            "files": {key: asdict(cp) for key, cp in entries.items()},
        }
        if sinks:
            doc["sinks"] = sinks
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            # A fresh file: whatever is under the temp name (left by a crash, or a link planted
            # there) is removed, never written through.
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            self._keep_last_good()
            os.replace(tmp, self.path)
            self._fsync_dir()
            self.recovered_from = None
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CheckpointError(
                f"Cannot write checkpoint file {self.path}: {exc.strerror}."
            ) from exc
        self._last_saved = dict(entries)
        self._last_sinks = self.sink_states = dict(sinks)
        return True

    def _keep_last_good(self) -> None:
        """Links the registry about to be replaced as the last good copy (when it is sound).

        It is sound when it was loaded without trouble or written by us; after a fall back to
        the copy it is the corrupt file, which must not replace the good copy.
        """
        if self._last_saved is None or self.recovered_from is not None:
            return
        link = self.backup.with_name(self.backup.name + ".tmp")
        try:
            link.unlink(missing_ok=True)
            os.link(self.path, link)
            os.replace(link, self.backup)
        except FileNotFoundError:
            pass  # no registry yet

    def _fsync_dir(self) -> None:
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
