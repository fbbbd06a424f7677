"""Rotation and truncation: how the tailer tells that an open file was truncated (copytruncate)
or rewritten, restarts it from 0, and keeps a renamed file ahead of its successor."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from logship.core.ack import AckTracker
from logship.core.metrics import Metrics
from logship.state.registry import FileRegistry
from logship.tail.files import TailedFile
from logship.tail.identity import fingerprint, head
from logship.tail.reader import GzipFileReader
from logship.tail.stages import LineStages

log = logging.getLogger("logship.tail.tailer")  # the tailer's messages, under its name


def same_generation(tf: TailedFile) -> bool:
    """True if the file still starts with the bytes it started with when opened."""
    if isinstance(tf.reader, GzipFileReader) or not tf.head:
        return True
    return os.pread(tf.reader.fd, len(tf.head), 0) == tf.head


def grew(tf: TailedFile, size: int) -> bool:
    """True if bytes were written past what was read (a compressed file never grows)."""
    return not isinstance(tf.reader, GzipFileReader) and size > tf.reader.offset


def rewritten(tf: TailedFile, size: int) -> bool:
    """True if a file read to its end was truncated since: it is shorter than what was read,
    or as long or longer but with other first bytes (truncated and written again up to or
    past that length between two looks: copytruncate racing a writer; the size alone cannot
    tell)."""
    if isinstance(tf.reader, GzipFileReader):
        return False
    offset = tf.reader.offset
    return size < offset or (offset > 0 and not same_generation(tf))


def restart_truncated(
    tf: TailedFile, size: int, acks: AckTracker, registry: FileRegistry, metrics: Metrics
) -> None:
    """Reads a truncated file again from 0: new stages (what they held belonged to the old
    content), new first bytes and fingerprint, acks reset."""
    log.warning(
        "File truncated (copytruncate?); reading it again from the start.",
        extra={"path": tf.path, "offset": tf.reader.offset, "size": size},
    )
    metrics.truncations.labels(tf.input.name).inc()
    acks.reset(tf.key, 0)
    tf.reader.offset = 0
    tf.stages = LineStages(0, tf.input.settings)
    tf.registered_end = 0
    tf.head = head(tf.reader.fd)
    tf.fp_hash, tf.fp_bytes = fingerprint(tf.reader.fd)
    registry.describe(tf.key, tf.path, tf.fp_hash, tf.fp_bytes, 0)
    tf.idle_polls = 0


def behind_predecessor(tf: TailedFile, open_files: Mapping[str, TailedFile]) -> bool:
    """True until the file this one replaced (renamed away) has been read to its end.

    "Its end" means an empty read *after* this file appeared: an end seen before the rename
    says nothing about what the app wrote to it just before the rename.
    """
    pred = tf.predecessor
    if pred is None:
        return False
    if pred.key in open_files and pred.eof_polls <= tf.predecessor_eofs:
        return True
    tf.predecessor = None
    return False
