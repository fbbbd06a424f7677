"""Watching quiet files: when a file at its end gets a one-shot inotify watch (its next write
wakes the tailer at once), and when a file's watch is given up for its timer alone."""

from __future__ import annotations

import logging

from logship.core.metrics import Metrics
from logship.tail.file_wake import FileWakeups
from logship.tail.files import TailedFile
from logship.tail.reader import GzipFileReader
from logship.tail.scheduling import MISSES_BEFORE_POLLING

log = logging.getLogger("logship.tail.tailer")  # the tailer's messages, under its name


def watch(wake: FileWakeups, tf: TailedFile, metrics: Metrics) -> bool:
    """Arms a one-shot watch on a quiet file, so its next write wakes the tailer at once."""
    if tf.input.settings.watch != "inotify" or isinstance(tf.reader, GzipFileReader):
        return False
    if wake.is_armed(tf.key) or tf.missed_events >= MISSES_BEFORE_POLLING:
        return False  # armed at an earlier end (the size check was done then), or useless
    failures = wake.failures
    if wake.arm(tf.key, tf.reader.fd):
        return True
    metrics.file_watch_failures.inc(wake.failures - failures)
    return False


def missed_event(wake: FileWakeups, tf: TailedFile, metrics: Metrics) -> None:
    """A read found data before the watch reported it: a race, or writes inotify cannot
    see (NFS, FUSE: another host's writes). After three in a row, the file is left to its
    timer."""
    tf.missed_events += 1
    if tf.missed_events < MISSES_BEFORE_POLLING:
        return
    wake.disarm(tf.key)
    metrics.file_watch_failures.inc()
    log.info(
        "Writes to this file are not reported by inotify (a network file system?); "
        "it is polled instead.",
        extra={"path": tf.path, "file_key": tf.key},
    )
