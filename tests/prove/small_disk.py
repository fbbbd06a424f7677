"""A small file system of its own for disk-full and read-only proofs: a tmpfs mounted by root.

Mounting needs root (CAP_SYS_ADMIN); elsewhere `SmallDisk.mount` skips the test with the reason.
`fill()` leaves the file system with no free byte (a ballast file), `free()` removes the
ballast; `read_only()` / `read_write()` remount it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import pytest


class SmallDisk:
    """A tmpfs of `size` mounted at `path` (created), unmounted by `unmount`."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        self.size = size
        self.ballast = path / ".ballast"

    def mount(self) -> SmallDisk:
        """Mounts it, or skips the test when this machine does not allow it."""
        if os.geteuid() != 0:
            pytest.skip("mounting a small file system needs root")
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        return self

    def _remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)

    def read_only(self) -> None:
        """Remounts it read-only: every write fails with EROFS."""
        self._remount("ro")

    def read_write(self) -> None:
        """Remounts it writable again."""
        self._remount("rw")

    def fill(self) -> None:
        """Writes a ballast file until the file system has not one byte left."""
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                chunk = b"\0" * size
                try:
                    while True:
                        os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    def free(self) -> None:
        """Deletes the ballast: the space is back."""
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        """Unmounts (lazily, should a process still hold a file open)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.read_write()
        subprocess.run(["umount", "-l", str(self.path)], check=False)
