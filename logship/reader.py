"""FileReader: one open file, read in large chunks from a byte offset. Knows nothing about lines."""

from __future__ import annotations

import os

from logship.identity import FileIdentity


class FileReader:
    """An open file descriptor and the offset of the next byte to read.

    Reads with `pread`, so the offset is ours alone and a truncated or replaced file cannot move
    it behind our back. The descriptor stays valid after the path is renamed or deleted, which
    is what lets a rotated file be read to its end.
    """

    def __init__(self, path: str, offset: int) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(self.fd)
        except OSError:
            os.close(self.fd)
            raise
        self.identity = FileIdentity.of(st)
        self.offset = offset

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` from the current offset (b"" at the end of the file)."""
        data = os.pread(self.fd, max_bytes, self.offset)
        self.offset += len(data)
        return data

    def stat(self) -> os.stat_result:
        """fstat of the open file (size, link count)."""
        return os.fstat(self.fd)

    def path_points_here(self) -> bool:
        """True if the path still names this file (not renamed away, deleted or replaced)."""
        try:
            return FileIdentity.of(os.stat(self.path)) == self.identity
        except OSError:
            return False

    def close(self) -> None:
        """Closes the descriptor."""
        os.close(self.fd)
