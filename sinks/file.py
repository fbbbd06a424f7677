"""The file sink: appends NDJSON to a local file, flushed and fsynced before a batch is acknowledged."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator, PlainSerializer

from logship.core.batch import Batch
from logship.core.durable import write_parts
from logship.core.metrics import Metrics
from logship.core.progress import Delivery, Progress, ProgressSource
from logship.core.schema import ConfigPath
from logship.core.sink import DELIVERED, Outcome, SendResult, SinkError, SinkSettings
from sinks.file_rotation import RotateSettings, due, find_by_inode, rotated_files, rotated_name

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    """An exclusive lock on the file for the duration (other agent processes wait)."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # closed by a roll-back: closing released the lock
            fcntl.flock(fd, fcntl.LOCK_UN)


def _octal(value: object) -> object:
    if isinstance(value, str):
        try:
            return int(value.removeprefix("0o"), 8)
        except ValueError:
            raise ValueError(
                f'expected file permissions in octal, like "0640" (got {value!r})'
            ) from None
    return value


class FileSinkSettings(SinkSettings):
    """`type: file`: NDJSON appended to `path` (parent folders are created)."""

    type: Literal["file"]
    path: ConfigPath
    fsync: bool = True
    """fsync after every batch; only turn off when losing the last batches on power loss is fine."""
    file_mode: Annotated[
        int, BeforeValidator(_octal), PlainSerializer(lambda mode: f"{mode:04o}", when_used="json")
    ] = 0o640
    """Permissions of a newly created output file: an octal string like "0640" (or an integer)."""
    rotate: RotateSettings | None = None
    """Start a new output file past `max_bytes` or after `interval` (the old one is renamed
    `<path>.<UTC time>`); none by default."""
    delivery: Delivery = "at_least_once"
    """`exactly_once`: the registry records the file's length with each checkpoint, and a
    restart cuts the file back to it, so a crash never leaves a line twice."""


class FileSink:
    """Appends each batch as NDJSON; a batch is delivered once written, flushed and fsynced.

    Writes, roll-backs and the torn-tail repair hold an exclusive `flock` on the file, so the
    worker processes of `workers: N` can append to the same file safely; the fsync happens
    after the lock is released.

    A failed write (disk full) is rolled back by truncating to the size before the batch, so a
    retried batch is never appended twice or torn. A write torn by a crash (`kill -9`, power
    loss) is cut off when the file is next opened: those records were never acknowledged, so
    they are sent again, and the next record does not glue onto half a line.
    """

    takes_ndjson = True
    """Only the records' JSON text is written: the tailer may hand over encoded batches."""

    # Sink protocol members it has nothing to say for (logship.core.sink).
    ready = True
    last_error = ""
    request_timeout = 0.0

    @property
    def output_path(self) -> str | None:
        """The file it appends to: never tailed by the agent."""
        return str(self.path)

    def bind_metrics(self, metrics: Metrics) -> None:
        """Keeps no metrics of its own."""

    def __init__(self, settings: FileSinkSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.path = settings.path
        self._fd: int | None = None
        self._opened_at = 0.0
        self._progress: ProgressSource | None = None
        self._state: tuple[Progress, dict[str, int]] | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self.path,
                os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                self.settings.file_mode,
            )
            try:
                with _locked(fd):
                    self._cut_torn_tail(fd)
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
            self._opened_at = time.monotonic()
        return self._fd

    def _rotate(self, fd: int, incoming: int) -> int:
        """Renames the file away and opens a new one when `rotate` says so; returns the fd to
        write to. Another worker process may have rotated it already: then just reopen."""
        settings = self.settings.rotate
        if settings is None:
            return fd
        with _locked(fd):
            st = os.fstat(fd)
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            rotate = current == st.st_ino and due(
                settings, st.st_size, incoming, time.monotonic() - self._opened_at
            )
            if rotate:
                target = rotated_name(self.path)
                os.rename(self.path, target)
                log.info(
                    "Output file rotated.",
                    extra={"sink": self.name, "path": str(self.path), "to": str(target)},
                )
        if current != st.st_ino or rotate:
            os.close(fd)
            self._fd = None
            return self._open()
        return fd

    def _cut_torn_tail(self, fd: int) -> None:
        """Truncates the file after its last newline, if it does not end with one."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - (1 << 20))
            chunk = os.pread(fd, end - start, start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        os.ftruncate(fd, keep)
        log.warning(
            "Output file ended with a partial record (a crash mid-write); cut it off, it will be re-sent.",
            extra={"sink": self.name, "path": str(self.path), "bytes_removed": size - keep},
        )

    def healthcheck(self) -> None:
        """Refuses to start when the output file cannot be created or appended to."""
        try:
            self._open()
        except OSError as exc:
            raise SinkError(
                f"cannot write {self.path}: {exc.strerror}; make the folder writable for the agent "
                f"or choose another path"
            ) from exc

    def send(self, batch: Batch) -> SendResult:
        """Writes the batch; RETRY (never a partial append) when the disk refuses."""
        data = batch.payload_parts()
        size = sum(map(len, data))
        try:
            fd = self._rotate(self._open(), size)
        except OSError as exc:
            return SendResult(Outcome.RETRY, reason=f"cannot open {self.path}: {exc.strerror}")
        with _locked(fd):
            size_before = os.fstat(fd).st_size
            try:
                write_parts(fd, data)
            except OSError as exc:
                self._roll_back(fd, size_before)
                if exc.errno == errno.ENOSPC:
                    return SendResult(Outcome.RETRY, reason=f"disk full writing {self.path}")
                return SendResult(Outcome.RETRY, reason=f"cannot write {self.path}: {exc.strerror}")
        if self.settings.fsync:
            # Outside the lock: other workers' appends need not wait for our disk flush (which
            # flushes theirs too). A failed fsync cannot be rolled back safely once others may
            # have appended: the batch is sent again (a possible duplicate, never a loss).
            try:
                os.fsync(fd)
            except OSError as exc:
                return SendResult(Outcome.RETRY, reason=f"cannot fsync {self.path}: {exc.strerror}")
        if self._progress is not None and batch.tickets:
            # Noted before the worker acknowledges the batch: the pipeline's next checkpoint
            # saves these watermarks with the length up to the last record they cover (records
            # past it, the head of a chunk split across sends, are cut after a crash).
            self._state = (
                self._progress.after(batch),
                {"length": size_before + batch.covered_bytes(data), "inode": os.fstat(fd).st_ino},
            )
        return DELIVERED

    # --- exactly once (logship.core.progress.LengthSink) -----------------------------------

    def bind_progress(self, source: ProgressSource) -> None:
        """Each delivered send from now on notes the progress it makes with the file's length."""
        self._progress = source

    def durable_state(self) -> tuple[Progress, dict[str, int]] | None:
        """The last delivered batch's progress and the file's length just after it."""
        return self._state

    def restore_state(self, state: Mapping[str, int] | None) -> dict[str, int]:
        """Cuts the file back to the length saved with the checkpoint, before anything is appended.

        What lies past it was written but never checkpointed: those lines are read and written
        again. A file that is not the one the length was saved for (another inode), or shorter
        than it, was changed by something else: it is left alone, and said so.
        """
        fd = self._open()
        with _locked(fd):
            st = os.fstat(fd)
            if state is None:
                if st.st_size:
                    log.warning(
                        "No saved length for the output file (first exactly_once run, or the "
                        "data folder is new): appending to it as it is.",
                        extra={"sink": self.name, "path": str(self.path), "size": st.st_size},
                    )
            elif state.get("inode") != st.st_ino and self._cut_rotated(state):
                os.ftruncate(fd, 0)  # started after the checkpoint: all of it is re-sent
                os.fsync(fd)
            elif state.get("inode") != st.st_ino or st.st_size < state["length"]:
                log.error(
                    "Output file was replaced or shortened by something else since the last "
                    "checkpoint; left as it is (lines may be missing or twice in it).",
                    extra={
                        "sink": self.name,
                        "path": str(self.path),
                        "size": st.st_size,
                        "saved_length": state["length"],
                    },
                )
            elif st.st_size > state["length"]:
                os.ftruncate(fd, state["length"])
                os.fsync(fd)
                log.info(
                    "Output file cut back to its checkpointed length (lines past it are re-sent).",
                    extra={
                        "sink": self.name,
                        "path": str(self.path),
                        "bytes_removed": st.st_size - state["length"],
                    },
                )
            return {"length": os.fstat(fd).st_size, "inode": st.st_ino}

    def _roll_back(self, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
        except OSError as exc:
            log.error(
                "Could not roll back a failed write; the file may hold a partial batch.",
                extra={"path": str(self.path), "error": exc.strerror},
            )
        # Reopen on the next send: the descriptor may be in a bad state.
        with contextlib.suppress(OSError):
            os.close(fd)
        self._fd = None

    def _cut_rotated(self, state: Mapping[str, int]) -> bool:
        """The saved length belongs to a file rotated since: cuts it back to that length and
        removes the files rotated after it (only lines past the checkpoint are in them). False
        when no rotated file is the saved one (then something else replaced the file)."""
        rotated = rotated_files(self.path)
        saved = find_by_inode(rotated, state["inode"])
        if saved is None:
            return False
        with open(saved, "r+b") as f:
            if os.fstat(f.fileno()).st_size > state["length"]:
                f.truncate(state["length"])
                os.fsync(f.fileno())
        later = rotated[rotated.index(saved) + 1 :]
        for path in later:
            path.unlink(missing_ok=True)
        log.info(
            "Output rotated since the checkpoint: the rotated file cut back to its checkpointed "
            "length; what was written after it is re-sent.",
            extra={"sink": self.name, "file": str(saved), "removed": [str(p) for p in later]},
        )
        return True

    def close(self, timeout: float) -> None:
        """Closes the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
