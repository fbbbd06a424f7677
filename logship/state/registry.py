"""FileRegistry: what the agent knows about every file it has read, turned into checkpoints.

The tailer describes files (path, fingerprint) as it opens them and marks them seen at every
scan; the ack tracker knows their acknowledged offsets; `checkpoints` joins the two into what
the checkpoint store persists. Entries of files no scan has found for `clean_removed_after` are
pruned, so the registry stays small however many files come and go.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable

from logship.state.checkpoint import FileCheckpoint


class FileRegistry:
    """Thread-safe map of file key -> the latest checkpoint for it."""

    def __init__(self, saved: dict[str, FileCheckpoint]) -> None:
        self._lock = threading.Lock()
        self._saved = dict(saved)
        self._entries: dict[str, FileCheckpoint] = dict(saved)

    def saved(self, key: str) -> FileCheckpoint | None:
        """The checkpoint loaded at start-up for this key, if any (and not pruned since)."""
        return self._saved.get(key)

    def describe(
        self, key: str, path: str, fingerprint: str, fingerprint_bytes: int, offset: int
    ) -> None:
        """Records (or updates) what a file is: path, fingerprint and current acknowledged offset."""
        now = time.time()
        with self._lock:
            old = self._entries.get(key)
            if (
                old is not None
                and old.path == path
                and old.fingerprint == fingerprint
                and old.fingerprint_bytes == fingerprint_bytes
            ):
                return
            self._entries[key] = FileCheckpoint(
                path, offset, fingerprint, fingerprint_bytes, now, now
            )

    def seen(self, keys: Iterable[str], now: float, refresh_after: float = 60.0) -> None:
        """Marks files a scan found; an entry marked less than `refresh_after` ago is left alone."""
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and now - entry.seen > refresh_after:
                    self._entries[key] = dataclasses.replace(entry, seen=now)

    def prune(self, now: float, max_age: float, keep: Iterable[str]) -> list[str]:
        """Removes entries not seen for `max_age` seconds (except `keep`); returns their keys."""
        protected = set(keep)
        with self._lock:
            gone = [
                key
                for key, entry in self._entries.items()
                if key not in protected and now - entry.seen > max_age
            ]
            for key in gone:
                del self._entries[key]
                self._saved.pop(key, None)
        return gone

    def __len__(self) -> int:
        return len(self._entries)

    def checkpoints(self, watermarks: dict[str, int]) -> dict[str, FileCheckpoint]:
        """Every entry, with the acknowledged offsets applied; `updated` moves only with the offset."""
        now = time.time()
        with self._lock:
            for key, offset in watermarks.items():
                entry = self._entries.get(key)
                if entry is not None and entry.offset != offset:
                    self._entries[key] = dataclasses.replace(entry, offset=offset, updated=now)
            return dict(self._entries)

    def entry(self, key: str) -> FileCheckpoint | None:
        """The current entry of one file (offset as last applied), or None."""
        with self._lock:
            return self._entries.get(key)
