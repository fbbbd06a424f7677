"""A small file system of its own for disk-full and read-only proofs: a tmpfs mounted by root.

Mounting needs root (CAP_SYS_ADMIN); elsewhere `SmallDisk.mount` skips the test with the reason.
`fill()` leaves the file system with no free byte (a ballast file), `free()` removes the
ballast; `read_only()` / `read_write()` remount it.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import pytest


class SmallDisk:
    """A tmpfs of `size` mounted at `path` (created), unmounted by `unmount`."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        self.size = size
        self.ballast = path / ".ballast"
        self._bound = False

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

    def read_only(self) -> None:
        """Makes it read-only: every write through its path fails with EROFS.

        A remount cannot turn a file system read-only while a process holds a file open for
        writing (the agent's lock file), so the folder is bind-mounted onto itself and the
        bind mount made read-only: what was open stays open, everything opened anew is
        read-only, as after an I/O error remounted the disk read-only.
        """
        if not self._bound:
            subprocess.run(["mount", "--bind", str(self.path), str(self.path)], check=True)
            self._bound = True
        for _ in range(50):  # EBUSY while a write happens to be open through the bind mount
            done = subprocess.run(
                ["mount", "-o", "remount,bind,ro", str(self.path)], capture_output=True, check=False
            )
            if done.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"cannot make {self.path} read-only: {done.stderr.decode()}")

    def read_write(self) -> None:
        """Makes it writable again."""
        subprocess.run(["mount", "-o", "remount,bind,rw", str(self.path)], check=True)

    def fill(self, leave: int = 0) -> None:
        """Writes a ballast file until the file system is full, then frees about `leave` bytes."""
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
            if leave:
                os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        finally:
            os.close(fd)

    def free(self) -> None:
        """Deletes the ballast: the space is back."""
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        """Unmounts (lazily, should a process still hold a file open)."""
        if self._bound:
            subprocess.run(["umount", "-l", str(self.path)], check=False)
        subprocess.run(["umount", "-l", str(self.path)], check=False)
