"""Durable writes: all of the bytes, then fsync, before anything is acknowledged."""

from __future__ import annotations

import os
from collections.abc import Sequence

IOV_MAX = 1024
"""Pieces per `writev` call (Linux's limit)."""


def write_all(fd: int, data: bytes, fsync: bool = True) -> None:
    """Writes every byte of `data` (a write may take fewer) and fsyncs; raises OSError."""
    write_parts(fd, [data])
    if fsync:
        os.fsync(fd)


def write_parts(fd: int, parts: Sequence[bytes]) -> None:
    """Writes every byte of the pieces, in order, with `writev` (no copy into one buffer);
    raises OSError. Not fsynced."""
    views = [memoryview(p) for p in parts if p]
    i = 0
    while i < len(views):
        written = os.writev(fd, views[i : i + IOV_MAX])
        while written and written >= len(views[i]):
            written -= len(views[i])
            i += 1
        if written:
            views[i] = views[i][written:]
