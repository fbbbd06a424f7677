"""Shards: which worker process owns which file, and the registry files of each layout.

With `workers: N` the files are split by a stable hash of their identity (device:inode, which a
rename keeps; blake2b, so that files created together, with consecutive inodes, spread evenly),
so a file is always read by the same worker, and each worker keeps its own
registry file `registry.worker-<i>-of-<N>.json`. One worker (N = 1) keeps `registry.json`.

When N changes between runs, `consolidate` merges whatever registry files exist (any layout,
their last good copies as fall-back) and writes the new layout before any worker starts; the
files of the old layout are deleted only after the new ones are safely on disk, so a crash in
between just repeats the merge.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from logship.state.checkpoint import (
    BACKUP_SUFFIX,
    FILE_NAME,
    CheckpointError,
    CheckpointStore,
    FileCheckpoint,
)

log = logging.getLogger(__name__)

_WORKER_FILE = re.compile(r"^registry\.worker-(\d+)-of-(\d+)\.json$")


@dataclass(frozen=True, slots=True)
class Shard:
    """Worker `index` of `count`."""

    index: int
    count: int

    def owns(self, key: str) -> bool:
        """True if the file with this identity key belongs to this worker."""
        return self.count == 1 or worker_of(key, self.count) == self.index

    @property
    def registry_name(self) -> str:
        """The registry file name of this shard."""
        return (
            FILE_NAME if self.count == 1 else f"registry.worker-{self.index}-of-{self.count}.json"
        )

    @property
    def suffix(self) -> str:
        """Added to per-worker file names (dead letters, locks); empty for a single worker."""
        return "" if self.count == 1 else f".worker-{self.index}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"1/4"` -> Shard(1, 4); ValueError when malformed."""
        index, _, count = text.partition("/")
        shard = cls(int(index), int(count))
        if not 0 <= shard.index < shard.count:
            raise ValueError(f"worker {text!r}: expected INDEX/COUNT with 0 <= INDEX < COUNT")
        return shard


SINGLE = Shard(0, 1)


@functools.lru_cache(maxsize=65536)
def worker_of(key: str, count: int) -> int:
    """The index of the worker that reads the file with this identity key.

    Not crc32: its low bits are a linear function of the input's bits, so consecutive inodes
    (files created together) fall into one worker far more often than chance (two files:
    three times in four with two workers).
    """
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def worker_port_file(data_dir: Path, index: int) -> Path:
    """Where worker `index` writes the loopback port of its HTTP endpoint, for the supervisor."""
    return data_dir / f".http.worker-{index}"


def registry_files(data_dir: Path) -> list[Path]:
    """Every registry file in the folder, whatever layout wrote it."""
    if not data_dir.is_dir():
        return []
    return sorted(
        p for p in data_dir.iterdir() if p.name == FILE_NAME or _WORKER_FILE.match(p.name)
    )


def read_all(data_dir: Path) -> dict[str, FileCheckpoint]:
    """Every checkpoint in the folder, whatever layout wrote it (the latest entry of a key wins).

    Read-only and lock-free: `logship status` uses it beside a running agent. A file being
    replaced at that moment may be unreadable for an instant; its last good copy is read then.
    """
    merged: dict[str, FileCheckpoint] = {}
    for path in registry_files(data_dir):
        for key, entry in CheckpointStore(data_dir, path.name).load().items():
            old = merged.get(key)
            if old is None or entry.updated > old.updated:
                merged[key] = entry
    return merged


def consolidate(data_dir: Path, count: int) -> None:
    """Rewrites the registry files of `data_dir` in the layout for `count` workers.

    Raises CheckpointError when a registry file and its last good copy are both unusable.
    """
    wanted = {Shard(i, count).registry_name for i in range(count)}
    present = registry_files(data_dir)
    stale = [p for p in present if p.name not in wanted]
    if not stale and not _misplaced(data_dir, count):
        return  # already in this layout (or no registry yet)
    merged = read_all(data_dir)
    for i in range(count):
        shard = Shard(i, count)
        store = CheckpointStore(data_dir, shard.registry_name)
        store.save({k: v for k, v in merged.items() if shard.owns(k)})
    for path in stale:
        path.unlink(missing_ok=True)
        Path(str(path) + BACKUP_SUFFIX).unlink(missing_ok=True)
    log.info(
        "Registry rewritten: files assigned to the workers anew.",
        extra={"workers": count, "files": len(merged), "from": [p.name for p in present]},
    )


def _misplaced(data_dir: Path, count: int) -> bool:
    """True if a worker's registry file holds a file another worker owns (written by a version
    that assigned files differently)."""
    if count == 1:
        return False
    for i in range(count):
        shard = Shard(i, count)
        store = CheckpointStore(data_dir, shard.registry_name)
        if store.path.exists() and not all(shard.owns(k) for k in store.load()):
            return True
    return False


__all__ = [
    "SINGLE",
    "CheckpointError",
    "Shard",
    "consolidate",
    "read_all",
    "registry_files",
    "worker_port_file",
]
