"""FileRegistry: what the agent knows about every file it has read, turned into checkpoints.

The tailer describes files (path, fingerprint) as it opens them; the ack tracker knows their
acknowledged offsets; `checkpoints` joins the two into what the checkpoint store persists.
Entries loaded from the previous run are kept until the tailer sees their file again.
"""

from __future__ import annotations

import threading
import time

from logship.checkpoint import FileCheckpoint


class FileRegistry:
    """Thread-safe map of file key -> the latest checkpoint for it."""

    def __init__(self, saved: dict[str, FileCheckpoint]) -> None:
        self._lock = threading.Lock()
        self._saved = dict(saved)
        self._entries: dict[str, FileCheckpoint] = dict(saved)

    def saved(self, key: str) -> FileCheckpoint | None:
        """The checkpoint loaded at start-up for this key, if any."""
        return self._saved.get(key)

    def describe(
        self, key: str, path: str, fingerprint: str, fingerprint_bytes: int, offset: int
    ) -> None:
        """Records (or updates) what a file is: its path and fingerprint, and its current acknowledged offset."""
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
                path, offset, fingerprint, fingerprint_bytes, time.time()
            )

    def checkpoints(self, watermarks: dict[str, int]) -> dict[str, FileCheckpoint]:
        """Every entry, with the acknowledged offsets applied; `updated` moves only with the offset."""
        now = time.time()
        with self._lock:
            for key, offset in watermarks.items():
                entry = self._entries.get(key)
                if entry is not None and entry.offset != offset:
                    self._entries[key] = FileCheckpoint(
                        entry.path, offset, entry.fingerprint, entry.fingerprint_bytes, now
                    )
            return dict(self._entries)
