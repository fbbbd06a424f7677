"""Start-up reports: how a worker tells its supervisor "I started" or "I could not start".

The supervisor gives each worker the write end of a pipe (its number in `LOGSHIP_READY_FD`).
The worker writes one line and closes it: `ready` once its pipeline runs, or `failed <message>`
when it cannot start (configuration, permissions, a port: what makes a single-process agent exit
1). The supervisor reads the other end without blocking.

A pipe rather than an exit code alone: exit code 1 is also what an uncaught exception gives, and
the supervisor must know whether a worker ever ran, not only how it ended. A worker that exits
by itself before `ready` failed to start, whatever it wrote; one that exits after `ready`, or is
killed by a signal, crashed (`logship.app.supervisor` restarts only those).
"""

from __future__ import annotations

import contextlib
import os

READY_ENV = "LOGSHIP_READY_FD"
"""Set in a worker's environment: the file descriptor its start-up report goes to."""
_MAX_MESSAGE = 4000  # below PIPE_BUF: one write, never interleaved or torn


class StartReport:
    """The worker's side: says once that it started, or why it could not. A no-op outside a
    worker (no `LOGSHIP_READY_FD`)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def from_env(cls) -> StartReport:
        """The report channel the supervisor passed, if any."""
        value = os.environ.get(READY_ENV, "")
        return cls(int(value) if value.isdigit() else None)

    def ready(self) -> None:
        """The pipeline runs: from now on an exit is a crash."""
        self._send("ready")

    def failed(self, message: str) -> None:
        """This worker cannot start, for `message` (the text a single-process agent prints)."""
        self._send("failed " + " ".join(message.split())[:_MAX_MESSAGE])

    def _send(self, line: str) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # The supervisor may be gone (then this worker is about to get its parent-death signal).
        with contextlib.suppress(OSError):
            os.write(fd, line.encode("utf-8", "replace") + b"\n")
        with contextlib.suppress(OSError):
            os.close(fd)


class StartWatch:
    """The supervisor's side, one per worker process: the pipe, and what the worker said."""

    def __init__(self) -> None:
        self._read, self.child_fd = os.pipe()
        os.set_blocking(self._read, False)
        self._buffer = b""
        self.ready = False
        self.failure: str | None = None
        """The worker's own account of why it could not start, if it gave one."""

    @property
    def read_fd(self) -> int:
        """The supervisor's end of the pipe (-1 once closed)."""
        return self._read

    def spawned(self) -> None:
        """Closes the write end in the supervisor (the worker holds its copy)."""
        if self.child_fd >= 0:
            os.close(self.child_fd)
            self.child_fd = -1

    def poll(self) -> None:
        """Reads what the worker wrote so far (never blocks)."""
        if self._read < 0:
            return
        while True:
            try:
                chunk = os.read(self._read, 4096)
            except BlockingIOError:
                break
            if not chunk:  # the worker closed its end, or exited
                self.close()
                break
            self._buffer += chunk
        for line in self._buffer.split(b"\n")[:-1]:
            text = line.decode("utf-8", "replace")
            if text == "ready":
                self.ready = True
            elif text.startswith("failed "):
                self.failure = text.removeprefix("failed ")
        self._buffer = self._buffer[self._buffer.rfind(b"\n") + 1 :]

    def close(self) -> None:
        """Releases both ends."""
        self.spawned()
        if self._read >= 0:
            os.close(self._read)
            self._read = -1
