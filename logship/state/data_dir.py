"""The data folder: claimed by one process at a time, with a lock file, before anything is read."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from logship.core.errors import LogshipError


class StartupError(LogshipError):
    """The agent cannot start; the message names the config key or file and what to do."""


def claim(folder: Path, lock_name: str = ".lock") -> int:
    """Creates the folder if needed, takes its lock and checks it is writable; returns the lock fd.

    Raises StartupError naming `agent.data_dir` when the folder cannot be used or another
    process holds the lock. The lock is released when the returned descriptor is closed (or the
    process dies).
    """
    try:
        # Private whatever the umask: checkpoints name the files read, dead letters hold records,
        # and a folder others may write to lets them plant links where the agent writes.
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder / lock_name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StartupError(
            f"agent.data_dir: cannot use {folder}: {exc.strerror}; it must be a writable folder"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StartupError(
            f"agent.data_dir: {folder} is in use by another logship process; "
            f"give each agent its own data_dir"
        ) from None
    probe = folder / f".write-test{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        os.close(fd)
        raise StartupError(f"agent.data_dir: cannot write in {folder}: {exc.strerror}") from None
    return fd
