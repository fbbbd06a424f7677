"""The pipeline's side of exactly-once delivery: checkpoints as records a sink can commit.

A Kafka sink with `delivery: exactly_once` writes, in the transaction of each batch, one record
per file whose checkpoint that batch moves, to a compacted offsets topic:

    key   = "<host name>/<file key>"   (compaction keeps the latest checkpoint of each file)
    value = {"version": 1, "path": ..., "offset": ..., "fingerprint": ..., ...}

At start-up those records are read back (`decode_records`) and win over the local registry,
which is then only a cache: it is written from acknowledgements, which come after the commit,
so it is never ahead of the topic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import asdict

import orjson

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.progress import Progress
from logship.state.checkpoint import FileCheckpoint
from logship.state.registry import FileRegistry
from logship.state.shard import Shard

RECORD_VERSION = 1


class CheckpointProgress:
    """A ProgressSource over the ack tracker and the file registry of one pipeline."""

    def __init__(
        self, acks: AckTracker, registry: FileRegistry, host_name: str, shard: Shard
    ) -> None:
        self.acks = acks
        self.registry = registry
        self.host_name = host_name
        self.shard = shard
        self._lock = threading.Lock()
        self._committed: dict[str, int] = {}
        """Per file, the offset last stored with a batch: records are written only for changes."""

    @property
    def scope(self) -> str:
        """`<host name>` for one worker, `<host name>.worker-<i>` for worker i of several."""
        return self.host_name + self.shard.suffix

    @property
    def key_prefix(self) -> bytes:
        """`<host name>/`: shared by the workers (the file key says which one owns it)."""
        return self.host_name.encode() + b"/"

    def start_from(self, saved: dict[str, FileCheckpoint]) -> None:
        """The checkpoints the agent resumes from count as stored (no record until they move)."""
        with self._lock:
            self._committed = {key: cp.offset for key, cp in saved.items()}

    def after(self, batch: Batch) -> Progress:
        """The checkpoints once `batch` is acknowledged, with a record for each one that moved."""
        marks = self.acks.after(batch.tickets)
        prefix = self.key_prefix
        now = time.time()
        records: list[tuple[bytes, bytes]] = []
        with self._lock:
            committed = dict(self._committed)
        for key, offset in marks.items():
            if committed.get(key) == offset:
                continue
            entry = self.registry.entry(key)
            if entry is None:
                continue  # not described yet: nothing of it was read
            doc = asdict(entry)
            doc.update(version=RECORD_VERSION, offset=offset, updated=now)
            records.append((prefix + key.encode(), orjson.dumps(doc)))
        return Progress(marks, tuple(records))

    def committed(self, progress: Progress) -> None:
        """Remembers what is stored now."""
        skip = len(self.key_prefix)
        with self._lock:
            for key, _ in progress.records:
                file_key = key[skip:].decode()
                self._committed[file_key] = progress.watermarks[file_key]


def decode_records(
    records: Iterable[tuple[bytes, bytes]], prefix: bytes, shard: Shard
) -> dict[str, FileCheckpoint]:
    """The checkpoints in progress records, those of files `shard` owns; bad records skipped."""
    out: dict[str, FileCheckpoint] = {}
    for key, value in records:
        if not key.startswith(prefix):
            continue
        file_key = key[len(prefix) :].decode(errors="replace")
        if not shard.owns(file_key):
            continue
        try:
            doc = orjson.loads(value)
            out[file_key] = FileCheckpoint(
                path=str(doc["path"]),
                offset=int(doc["offset"]),
                fingerprint=str(doc.get("fingerprint", "")),
                fingerprint_bytes=int(doc.get("fingerprint_bytes", 0)),
                updated=float(doc.get("updated", 0.0)),
                seen=float(doc.get("seen", 0.0)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return out


def merge_committed(
    local: dict[str, FileCheckpoint], committed: dict[str, FileCheckpoint]
) -> dict[str, FileCheckpoint]:
    """The local registry with every committed checkpoint taking precedence (the topic is the
    truth; a file only in the local registry had nothing committed, so its entry stands)."""
    return {**local, **committed}
