"""File identity: device + inode, confirmed by a fingerprint of the file's first bytes.

The path is not the identity (a rotated file keeps its identity under a new name); the inode alone
is not either (file systems recycle inodes). The fingerprint, a hash of the first
`FINGERPRINT_BYTES` bytes (fewer while the file is shorter), tells a recycled inode from the file a
checkpoint was saved for: the saved prefix must still be a prefix of the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

FINGERPRINT_BYTES = 1024


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Device and inode of an open file; `key` names it in the ack tracker and the registry."""

    dev: int
    ino: int

    @property
    def key(self) -> str:
        """A stable string for the registry: `<dev>:<ino>`."""
        return f"{self.dev}:{self.ino}"

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        """The identity of a stat result."""
        return cls(st.st_dev, st.st_ino)


def fingerprint(fd: int, length: int = FINGERPRINT_BYTES) -> tuple[str, int]:
    """Hash of the first `length` bytes of an open file (fewer if it is shorter) and how many were hashed."""
    head = os.pread(fd, length, 0)
    return hashlib.sha256(head).hexdigest(), len(head)


def head(fd: int, length: int = FINGERPRINT_BYTES) -> bytes:
    """The first `length` bytes of an open file (fewer if it is shorter)."""
    return os.pread(fd, length, 0)


def matches(fd: int, saved_hash: str, saved_bytes: int) -> bool:
    """True if the open file still starts with the bytes a saved fingerprint was taken of."""
    if saved_bytes == 0:
        return True
    current, n = fingerprint(fd, saved_bytes)
    return n == saved_bytes and current == saved_hash
