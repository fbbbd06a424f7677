"""Durable writes: all of the bytes, then fsync, before anything is acknowledged."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes, fsync: bool = True) -> None:
    """Writes every byte of `data` (os.write may write fewer) and fsyncs; raises OSError."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if fsync:
        os.fsync(fd)
