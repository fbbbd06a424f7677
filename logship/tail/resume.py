"""Resume policy: the offset a file just opened is read from.

In order: where this run closed it (same first bytes); else its checkpoint (same first bytes,
and not shorter than the checkpoint); else the start, or its end with `start_at: end` on the
first scan. A file that is not what was checkpointed under its inode, or was truncated while
the agent was stopped, is read from 0 and its acks are reset.
"""

from __future__ import annotations

import logging

from logship.core.ack import AckTracker
from logship.core.metrics import Metrics
from logship.state.registry import FileRegistry
from logship.tail.files import ClosedFile, InputRuntime
from logship.tail.identity import matches
from logship.tail.reader import FileReader, GzipFileReader

log = logging.getLogger("logship.tail.tailer")  # the tailer's messages, under its name


def start_offset(
    inp: InputRuntime,
    reader: FileReader,
    size: int,
    closed: ClosedFile | None,
    first_scan: bool,
    registry: FileRegistry,
    acks: AckTracker,
    metrics: Metrics,
) -> int:
    """Where to start reading `reader`'s file (`size` bytes long now); resets its acks when it
    restarts from 0 a file the tracker knew."""
    key = reader.identity.key
    if closed is not None and matches(reader.fd, closed.fp_hash, closed.fp_bytes):
        return closed.offset
    saved = registry.saved(key)
    if saved is not None:
        if not matches(reader.fd, saved.fingerprint, saved.fingerprint_bytes):
            log.info(
                "A checkpointed inode now holds a different file; reading it from the start.",
                extra={"path": reader.path, "file_key": key, "was": saved.path},
            )
            acks.reset(key, 0)
            return 0
        if size < saved.offset and not isinstance(reader, GzipFileReader):
            log.warning(
                "File is shorter than its checkpoint (truncated while stopped); reading from 0.",
                extra={"path": reader.path, "checkpoint": saved.offset, "size": size},
            )
            metrics.truncations.labels(inp.name).inc()
            acks.reset(key, 0)
            return 0
        return saved.offset
    if closed is not None:  # closed this run, now a different file under the same inode
        acks.reset(key, 0)
        return 0
    if inp.settings.start_at == "end" and first_scan:
        return size
    return 0
