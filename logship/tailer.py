"""The tailer: finds files, reads them in chunks, frames and parses the lines, queues the records.

One thread serves every input and file. Per round it reads one chunk from each file that is due;
a file that returned data is due again at once, a file at its end is polled again after
`poll_interval`, doubling while it stays quiet up to 8x (an idle agent does not spin). Folder
events (watchdog) and the periodic scan find new files. Each chunk's records get an ack ticket
*before* they are queued; a full queue blocks this thread, which is the backpressure.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from logship.ack import AckTracker
from logship.batch import Batch
from logship.config import InputSettings
from logship.discovery import FileFinder
from logship.framing import LineFramer, Lines
from logship.identity import FINGERPRINT_BYTES, FileIdentity, fingerprint, matches
from logship.metrics import Metrics
from logship.process import name_native_thread
from logship.reader import FileReader
from logship.record import LogEntry, format_epoch
from logship.registry import FileRegistry
from logship.sink_queue import SinkQueue
from logship.watcher import DirectoryWatcher
from parsers.chain import ParserChain

log = logging.getLogger(__name__)

_MAX_IDLE_BACKOFF = 8  # a quiet file is polled at most every 8 x poll_interval
_MIN_RESCAN_GAP = 0.1  # seconds between event-triggered rescans


class RecordObserver(Protocol):
    """Sees every chunk of records after parsing, before queueing (log-derived metrics, alerts).

    Called on the tailer thread: it must be cheap, never block, and never mutate the records.
    """

    def observe(self, input_name: str, entries: list[LogEntry]) -> None:
        """Looks at one chunk of records of one input."""


@dataclass(frozen=True, slots=True)
class FileState:
    """A point-in-time view of one open file, for status pages and lag metrics."""

    input: str
    path: str
    key: str
    size: int
    read_offset: int


@dataclass
class InputRuntime:
    """One configured input as the tailer runs it: its files, its parser chain, its sink queues."""

    settings: InputSettings
    chain: ParserChain
    queues: Sequence[SinkQueue]
    own_files: frozenset[str] = frozenset()
    """The agent's own output files: never tailed, even when a glob matches them."""
    own_dirs: tuple[str, ...] = ()
    """Folders (ending in a separator) of the agent's own state: never tailed."""
    finder: FileFinder = field(init=False)

    def __post_init__(self) -> None:
        self.finder = FileFinder(self.settings.paths, self.settings.exclude)

    @property
    def name(self) -> str:
        """The input's name (metrics label)."""
        return self.settings.name


@dataclass(frozen=True, slots=True)
class _Closed:
    """Where to resume a file closed during this run (inactive, renamed), if it shows up again."""

    offset: int
    fp_hash: str
    fp_bytes: int
    mtime: float


class _TailedFile:
    """An open file being tailed, with its framing state and poll schedule."""

    __slots__ = (
        "file_info",
        "fp_bytes",
        "fp_hash",
        "framer",
        "idle_polls",
        "input",
        "key",
        "last_data",
        "next_poll",
        "path",
        "reader",
    )

    def __init__(self, inp: InputRuntime, path: str, reader: FileReader, now: float) -> None:
        self.input = inp
        self.path = path
        self.reader = reader
        self.key = reader.identity.key
        self.file_info = {
            "path": path,
            "device_id": str(reader.identity.dev),
            "inode": str(reader.identity.ino),
        }
        self.framer = LineFramer(reader.offset, inp.settings.max_line_bytes)
        self.fp_hash, self.fp_bytes = fingerprint(reader.fd)
        self.last_data = now
        self.next_poll = now
        self.idle_polls = 0


class Tailer(threading.Thread):
    """Reads every input's files and feeds their records into the sink queues."""

    def __init__(
        self,
        inputs: Sequence[InputRuntime],
        acks: AckTracker,
        registry: FileRegistry,
        metrics: Metrics,
        observers: Sequence[RecordObserver] = (),
    ) -> None:
        super().__init__(name="tailer", daemon=True)
        self.observers = list(observers)
        self.inputs = list(inputs)
        self.acks = acks
        self.registry = registry
        self.metrics = metrics
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._watcher = DirectoryWatcher(self._wake)
        self._files: dict[str, _TailedFile] = {}
        self._closed: dict[str, _Closed] = {}  # files closed this run, by key
        self._failed_paths: dict[str, str] = {}  # path -> error, to log each failure once
        self.scans = 0
        """How many discovery scans have completed (the first one applies `start_at: end`)."""
        self._warned_empty: set[str] = set()
        self._m = {
            inp.name: (
                metrics.lines_read.labels(inp.name),
                metrics.bytes_read.labels(inp.name),
                metrics.lines_truncated.labels(inp.name),
                metrics.records_unmatched.labels(inp.name),
                metrics.partial_lines_flushed.labels(inp.name),
            )
            for inp in self.inputs
        }
        self.error: BaseException | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops reading: a blocked queue put is abandoned (those lines are not acked, so re-read)."""
        self._stopping.set()
        self._wake.set()
        for inp in self.inputs:
            for queue in inp.queues:
                queue.interrupt_puts()

    def run(self) -> None:
        name_native_thread("logship-tailer")
        try:
            self._loop()
        except BaseException as exc:  # surfaced by the agent's supervisor, which shuts down
            self.error = exc
            log.exception("Tailer failed.")
        finally:
            for tf in list(self._files.values()):
                self._close(tf, reason="shutdown")
            self._watcher.stop()

    @property
    def open_files(self) -> int:
        """How many files are open now."""
        return len(self._files)

    def file_states(self) -> list[FileState]:
        """The open files now (safe to call from any thread; sizes are read with fstat)."""
        states = []
        for tf in list(self._files.values()):
            try:
                size = tf.reader.stat().st_size
            except OSError:
                continue  # closed meanwhile
            states.append(FileState(tf.input.name, tf.path, tf.key, size, tf.reader.offset))
        return states

    def _loop(self) -> None:
        scan_interval = min(inp.settings.scan_interval for inp in self.inputs)
        next_scan = 0.0
        last_scan = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_scan or (self._wake.is_set() and now - last_scan >= _MIN_RESCAN_GAP):
                self._wake.clear()
                self._scan()
                last_scan = now
                next_scan = now + scan_interval
            busy = False
            due = next_scan
            for tf in list(self._files.values()):
                if self._stopping.is_set():
                    return
                if tf.next_poll <= now:
                    busy = self._poll(tf, now) or busy
                if tf.key in self._files:
                    due = min(due, tf.next_poll)
            if busy:
                continue
            if self._wake.is_set():
                # A folder event arrived within _MIN_RESCAN_GAP of the last scan: rescan soon,
                # without spinning on the already-set event.
                self._stopping.wait(
                    max(0.0, min(due, last_scan + _MIN_RESCAN_GAP) - time.monotonic())
                )
            else:
                self._wake.wait(max(0.0, due - time.monotonic()))

    # --- discovery ------------------------------------------------------------------------

    def _scan(self) -> None:
        for inp in self.inputs:
            paths = [
                p
                for p in inp.finder.scan()
                if p not in inp.own_files and not p.startswith(inp.own_dirs)
            ]
            self._watcher.ensure(inp.finder.watch_roots())
            if not paths and inp.name not in self._warned_empty:
                self._warned_empty.add(inp.name)
                log.warning(
                    "No file matches the input's paths yet; watching for them.",
                    extra={"input": inp.name, "paths": inp.settings.paths},
                )
            for path in paths:
                self._open(inp, path)
        self.scans += 1
        self.metrics.files_open.set(len(self._files))

    def _open(self, inp: InputRuntime, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return  # gone between glob and stat
        key = FileIdentity.of(st).key
        if key in self._files:
            return  # already open (under another name, or by another input)
        closed = self._closed.get(key)
        if closed is not None and st.st_size <= closed.offset and st.st_mtime == closed.mtime:
            return  # closed earlier and unchanged since
        try:
            reader = FileReader(path, 0)
        except OSError as exc:
            self._open_failed(inp, path, exc)
            return
        if reader.identity.key != key:  # replaced between stat and open: next scan
            reader.close()
            return
        self._failed_paths.pop(path, None)
        reader.offset = self._start_offset(inp, reader, st.st_size, self._closed.pop(key, None))
        tf = _TailedFile(inp, path, reader, time.monotonic())
        self._files[key] = tf
        self.acks.track(key, reader.offset)
        self.registry.describe(key, path, tf.fp_hash, tf.fp_bytes, self._acked(key, reader.offset))
        log.info(
            "File opened.",
            extra={"input": inp.name, "path": path, "offset": reader.offset, "file_key": key},
        )

    def _start_offset(
        self, inp: InputRuntime, reader: FileReader, size: int, closed: _Closed | None
    ) -> int:
        key = reader.identity.key
        if closed is not None and matches(reader.fd, closed.fp_hash, closed.fp_bytes):
            return closed.offset
        saved = self.registry.saved(key)
        if saved is not None:
            if not matches(reader.fd, saved.fingerprint, saved.fingerprint_bytes):
                log.info(
                    "A checkpointed inode now holds a different file; reading it from the start.",
                    extra={"path": reader.path, "file_key": key, "was": saved.path},
                )
                self.acks.reset(key, 0)
                return 0
            if size < saved.offset:
                log.warning(
                    "File is shorter than its checkpoint (truncated while stopped); reading from 0.",
                    extra={"path": reader.path, "checkpoint": saved.offset, "size": size},
                )
                self.metrics.truncations.labels(inp.name).inc()
                self.acks.reset(key, 0)
                return 0
            return saved.offset
        if inp.settings.start_at == "end" and self.scans == 0:
            return size
        return 0

    def _acked(self, key: str, default: int) -> int:
        mark = self.acks.watermark(key)
        return default if mark is None else mark

    def _open_failed(self, inp: InputRuntime, path: str, exc: OSError) -> None:
        message = exc.strerror or str(exc)
        if self._failed_paths.get(path) != message:
            self._failed_paths[path] = message
            self.metrics.file_errors.labels(inp.name).inc()
            log.warning(
                "Cannot open file; will retry at the next scan.",
                extra={"input": inp.name, "path": path, "error": message},
            )

    # --- reading --------------------------------------------------------------------------

    def _poll(self, tf: _TailedFile, now: float) -> bool:
        """Reads one chunk of a due file. True if data was read."""
        settings = tf.input.settings
        try:
            data = tf.reader.read(settings.read_buffer_bytes)
        except OSError as exc:
            self.metrics.file_errors.labels(tf.input.name).inc()
            log.warning(
                "Read failed; closing the file.", extra={"path": tf.path, "error": exc.strerror}
            )
            self._close(tf, reason="read error")
            return False
        if data:
            tf.last_data = now
            tf.idle_polls = 0
            tf.next_poll = now
            lines = tf.framer.feed(data)
            self._m[tf.input.name][1].inc(len(data))
            if tf.fp_bytes < FINGERPRINT_BYTES and tf.reader.offset > tf.fp_bytes:
                tf.fp_hash, tf.fp_bytes = fingerprint(tf.reader.fd)
                self.registry.describe(
                    tf.key, tf.path, tf.fp_hash, tf.fp_bytes, self._acked(tf.key, 0)
                )
            if lines:
                self._ship(tf, lines)
            return True
        self._at_end(tf, now)
        return False

    def _at_end(self, tf: _TailedFile, now: float) -> None:
        """The file had nothing new: flush a stale partial line, notice truncation, removal, inactivity."""
        settings = tf.input.settings
        tf.idle_polls += 1
        tf.next_poll = now + settings.poll_interval * min(
            2 ** (tf.idle_polls - 1), _MAX_IDLE_BACKOFF
        )
        if tf.framer.pending and now - tf.last_data >= settings.partial_line_timeout:
            lines = tf.framer.flush()
            self._m[tf.input.name][4].inc(len(lines))
            self._ship(tf, lines)
        try:
            st = tf.reader.stat()
        except OSError:
            return
        if st.st_size < tf.reader.offset:
            self._truncated(tf, st.st_size)
            return
        if st.st_nlink == 0:
            self._drain_partial(tf)
            self._close(tf, reason="deleted", deleted=True)
        elif now - tf.last_data >= settings.close_inactive:
            if tf.reader.path_points_here():
                self._close(tf, reason="inactive")
            else:
                self._drain_partial(tf)
                self._close(tf, reason="renamed and inactive")

    def _truncated(self, tf: _TailedFile, size: int) -> None:
        log.warning(
            "File truncated (copytruncate?); reading it again from the start.",
            extra={"path": tf.path, "offset": tf.reader.offset, "size": size},
        )
        self.metrics.truncations.labels(tf.input.name).inc()
        self.acks.reset(tf.key, 0)
        tf.reader.offset = 0
        tf.framer = LineFramer(0, tf.input.settings.max_line_bytes)
        tf.fp_hash, tf.fp_bytes = fingerprint(tf.reader.fd)
        self.registry.describe(tf.key, tf.path, tf.fp_hash, tf.fp_bytes, 0)
        tf.next_poll = time.monotonic()

    def _drain_partial(self, tf: _TailedFile) -> None:
        """A file that can no longer grow: its last line without a newline is complete."""
        if tf.framer.pending:
            lines = tf.framer.flush()
            self._m[tf.input.name][4].inc(len(lines))
            self._ship(tf, lines)

    def _close(self, tf: _TailedFile, reason: str, deleted: bool = False) -> None:
        if self._files.pop(tf.key, None) is None:
            return
        if not deleted:
            try:
                mtime = tf.reader.stat().st_mtime
            except OSError:
                mtime = 0.0
            self._closed[tf.key] = _Closed(tf.framer.line_start, tf.fp_hash, tf.fp_bytes, mtime)
        tf.reader.close()
        self.metrics.files_open.set(len(self._files))
        log.info(
            "File closed.",
            extra={"path": tf.path, "reason": reason, "offset": tf.framer.line_start},
        )

    def _ship(self, tf: _TailedFile, lines: Lines) -> None:
        """Parses framed lines and queues the records with one ack ticket (per chunk, not per line)."""
        inp = tf.input
        m_lines, _, m_truncated, m_unmatched, _ = self._m[inp.name]
        entries, stats = inp.chain.parse(lines, tf.file_info, format_epoch(time.time()))
        m_lines.inc(len(lines))
        if lines.truncated:
            m_truncated.inc(len(lines.truncated))
        if stats.unmatched:
            m_unmatched.inc(stats.unmatched)
        for rule, n in stats.matched.items():
            self.metrics.records_parsed.labels(inp.name, rule).inc(n)
        for (rule, reason), n in stats.field_errors.items():
            self.metrics.parse_errors.labels(inp.name, rule, reason).inc(n)
        for observer in self.observers:
            observer.observe(inp.name, entries)
        ticket = self.acks.register(tf.key, lines.end, len(inp.queues) if entries else 0)
        if not entries:
            return
        batch = Batch(entries, [ticket], lines.end - lines.starts[0])
        for queue in inp.queues:
            if not queue.put(batch):
                return  # stopping: not queued means not acked, so re-read after restart
