"""The tailer: finds files, reads them in chunks, turns them into events and records, queues them.

One thread serves every input and file, in rounds (`run_round`). Per round it:

1. rescans the globs when `scan_interval` has passed or a folder event (inotify) asked for it;
2. reads one chunk from every open file that is due: a file that returned data is due again at
   once; a file at its end 25 ms later, then at doubling intervals while it stays quiet, up to
   8 x `poll_interval`, so a busy file is followed closely (low latency), an idle agent does not
   spin, and one busy file cannot starve the others. A file still quiet at its second re-check
   gets a one-shot inotify watch (`logship.tail.file_wake`): its next write makes it due at once,
   and the timer stays as the safety net (and the only way on file systems without inotify);
3. at a file's end: flushes partial lines and multiline events whose wait is over, notices
   truncation (copytruncate), deletion and inactivity, and when files are waiting for one of
   the `max_open_files` slots, closes the file to give its slot to the next (fair sharing);
4. prunes registry entries of files no scan has found for `clean_removed_after`.

Each chunk's records get an ack ticket *before* they are queued; a full queue blocks this
thread, which is the backpressure. After a rename rotation the renamed file is read to its end
before its successor at the same path is read at all, so lines keep their order.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from logship.app.config import InputSettings
from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.lines import Lines
from logship.core.metrics import Metrics
from logship.core.ndjson import encode_ndjson
from logship.core.process import name_native_thread
from logship.core.record import LogEntry
from logship.deliver.queue import SinkQueue
from logship.state.registry import FileRegistry
from logship.state.shard import SINGLE, Shard
from logship.tail.discovery import FileFinder
from logship.tail.file_wake import FileWakeups
from logship.tail.identity import FINGERPRINT_BYTES, FileIdentity, fingerprint, head, matches
from logship.tail.poll_schedule import PollSchedule
from logship.tail.reader import FileReader, GzipFileReader
from logship.tail.stages import LineStages, file_fields, parse_events
from logship.tail.watcher import DirectoryWatcher
from parsers.chain import ParserChain

log = logging.getLogger(__name__)

_MAX_IDLE_BACKOFF = 8  # a quiet file is polled every 8 x poll_interval at most
_FIRST_RECHECK = 0.025  # a file just read to its end is checked again this soon, then doubling
_WATCH_AFTER = 2  # empty reads in a row before a file is watched for its next write
_QUIET = 1.0  # seconds without data after which a woken file is watched again at its end
_MISSES_BEFORE_POLLING = 3  # writes a file's watch did not report before it is only polled
_SETTLED_AFTER = 4  # empty re-checks (~375 ms) after which an unwatched file counts as quiet
_MIN_RESCAN_GAP = 0.1  # seconds between event-triggered rescans
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".Z")


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
    encode: bool = False
    """Every sink of this input takes NDJSON: records are encoded right after parsing."""
    finder: FileFinder = field(init=False)

    def __post_init__(self) -> None:
        self.finder = FileFinder(
            self.settings.paths, self.settings.exclude, self.settings.follow_symlinks
        )

    @property
    def name(self) -> str:
        """The input's name (metrics label)."""
        return self.settings.name

    def wants(self, path: str) -> bool:
        """False for the agent's own files, and compressed files unless `include_compressed`."""
        if path in self.own_files or path.startswith(self.own_dirs):
            return False
        if path.endswith(COMPRESSED_SUFFIXES):
            return self.settings.include_compressed and path.endswith(".gz")
        return True


@dataclass(frozen=True, slots=True)
class _Closed:
    """Where to resume a file closed during this run (inactive, renamed, yielded), if it grows."""

    offset: int
    fp_hash: str
    fp_bytes: int
    size: int
    mtime: float


class _TailedFile:
    """An open file being tailed: reader, stages, poll schedule, and what it was opened as."""

    __slots__ = (
        "eof_polls",
        "file_fields",
        "file_info",
        "fp_bytes",
        "fp_hash",
        "head",
        "idle_polls",
        "input",
        "key",
        "last_data",
        "missed_events",
        "path",
        "predecessor",
        "predecessor_eofs",
        "reader",
        "registered_end",
        "stages",
        "woken_from_quiet",
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
        self.file_fields: dict[str, Any] | None = file_fields(inp.settings, path)
        self.stages = LineStages(reader.offset, inp.settings)
        self.registered_end = reader.offset
        self.fp_hash, self.fp_bytes = fingerprint(reader.fd)
        self.head = head(reader.fd)
        """The first bytes as they were when opened: if they change, the file was truncated and
        rewritten (copytruncate followed by new writes past our offset), which size cannot tell."""
        self.last_data = now
        self.missed_events = 0  # reads that found data its armed watch did not report
        self.woken_from_quiet = False  # its watch fired after a quiet spell: re-arm at its end
        self.idle_polls = 0
        self.eof_polls = 0  # polls that found nothing new, in total
        self.predecessor: _TailedFile | None = None
        self.predecessor_eofs = 0  # the predecessor's eof_polls when this file was opened


class Tailer(threading.Thread):
    """Reads every input's files and feeds their records into the sink queues."""

    def __init__(
        self,
        inputs: Sequence[InputRuntime],
        acks: AckTracker,
        registry: FileRegistry,
        metrics: Metrics,
        observers: Sequence[RecordObserver] = (),
        max_open_files: int = 1024,
        clean_removed_after: float = 86400.0,
        shard: Shard = SINGLE,
    ) -> None:
        super().__init__(name="tailer", daemon=True)
        self.inputs = list(inputs)
        self.acks = acks
        self.registry = registry
        self.metrics = metrics
        self.observers = list(observers)
        self.max_open_files = max_open_files
        self.shard = shard
        self.clean_removed_after = clean_removed_after
        self._stopping = threading.Event()
        self._finishing = threading.Event()
        self._wake = threading.Event()  # the tailer waits on it; whoever wants a round sets it
        self._rescan = threading.Event()  # a folder event: rescan soon
        self._watcher = DirectoryWatcher(self._rescan, self._wake)
        self._file_wake = FileWakeups(self._wake)
        self._files: dict[str, _TailedFile] = {}
        self._polls = PollSchedule()  # when each open file is due for its next read
        self._active: set[str] = set()  # files that returned data and may return more soon
        self._closed: dict[str, _Closed] = {}  # files closed this run, by key
        self._closed_watched: dict[str, tuple[str, str]] = {}  # key -> (input, path): inactive
        self._waiting: deque[tuple[InputRuntime, str]] = deque()  # for a free slot
        self._waiting_paths: set[str] = set()
        self._failed_paths: dict[str, str] = {}  # path -> error, to log each failure once
        self._warned_empty: set[str] = set()
        self._warned_links: dict[str, set[str]] = {}  # input -> links skipped by its last scan
        self._next_scan = 0.0
        self._last_scan = -_MIN_RESCAN_GAP
        self.scans = 0
        """How many discovery scans have completed (the first one applies `start_at: end`)."""
        self._m = {inp.name: self._input_metrics(inp.name) for inp in self.inputs}
        self._queues = _distinct_queues(self.inputs)
        self._pending_inputs: list[InputRuntime] | None = None
        self.error: BaseException | None = None

    def _input_metrics(self, name: str) -> tuple[Any, Any, Any, Any, Any, Any]:
        m = self.metrics
        return (
            m.lines_read.labels(name),
            m.bytes_read.labels(name),
            m.lines_truncated.labels(name),
            m.records_unmatched.labels(name),
            m.partial_lines_flushed.labels(name),
            m.bytes_truncated.labels(name),
        )

    # --- lifecycle ------------------------------------------------------------------------

    def finish(self) -> None:
        """Graceful stop: read files that were deleted while open to their end, then stop.

        Their data exists only behind our open descriptors: once closed, nothing can read it
        again. Everything else stops at once and is re-read from the checkpoint next time.
        Call `stop` when the shutdown deadline passes.
        """
        self._finishing.set()
        self._wake.set()

    def reload(self, inputs: Sequence[InputRuntime]) -> None:
        """Swaps in new inputs (rules, globs, settings) between two rounds; see `_apply_inputs`."""
        self._pending_inputs = list(inputs)
        self._wake.set()

    def _apply_inputs(self) -> None:
        """Rebinds open files to the new inputs of the same name, without losing a byte.

        A file whose input is gone is closed (where it stopped is kept, as for inactivity).
        A file whose framing, container or multiline settings changed restarts its stages at
        the end of its last emitted event: what the old stages held is read again, not lost.
        """
        new = self._pending_inputs
        self._pending_inputs = None
        if new is None:
            return
        by_name = {inp.name: inp for inp in new}
        for tf in list(self._files.values()):
            inp = by_name.get(tf.input.name)
            if inp is None:
                self._close(tf, reason="its input was removed by a reload")
                continue
            old = tf.input.settings
            tf.input = inp
            if (old.max_line_bytes, old.container, old.multiline) != (
                inp.settings.max_line_bytes,
                inp.settings.container,
                inp.settings.multiline,
            ):
                tf.reader.offset = tf.stages.emitted_end
                tf.stages = LineStages(tf.reader.offset, inp.settings)
                tf.registered_end = tf.reader.offset
                tf.file_fields = file_fields(inp.settings, tf.path)
        self._waiting = deque((by_name[i.name], p) for i, p in self._waiting if i.name in by_name)
        self._waiting_paths = {p for _, p in self._waiting}
        for name in by_name:
            if name not in self._m:
                self._m[name] = self._input_metrics(name)
        self.inputs = list(new)
        self._queues = _distinct_queues(self.inputs)
        self._warned_empty &= set(by_name)
        self._next_scan = 0.0  # new globs are scanned at once
        log.info(
            "Inputs reloaded.", extra={"inputs": sorted(by_name), "open_files": len(self._files)}
        )

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
            while True:
                # Cleared before anything is looked at: a wake-up set after this point ends
                # the wait below at once, so none is lost.
                self._wake.clear()
                if self._stopping.is_set():
                    return
                if self._finishing.is_set():
                    self.read_deleted_to_end()
                    return
                if self._pending_inputs is not None:
                    self._apply_inputs()
                busy, due = self.run_round(time.monotonic())
                if busy:
                    continue
                if self._rescan.is_set():
                    # A folder event came within _MIN_RESCAN_GAP of the last scan: rescan soon.
                    due = min(due, self._last_scan + _MIN_RESCAN_GAP)
                if not self._active:  # no file is expected to return more soon
                    for queue in self._queues:
                        queue.producer_idle()  # so the sinks need not linger
                self._wake.wait(max(0.0, due - time.monotonic()))
        except BaseException as exc:  # surfaced by the agent's supervisor, which shuts down
            self.error = exc
            log.exception("Tailer failed.")
        finally:
            self.close_all()

    def close_all(self) -> None:
        """Closes every open file and stops watching folders."""
        for tf in list(self._files.values()):
            self._close(tf, reason="shutdown")
        self._watcher.stop()
        self._file_wake.close()

    def read_deleted_to_end(self) -> None:
        """Reads every open file whose last link is gone to its end, ships it, and closes it."""
        for tf in list(self._files.values()):
            try:
                st = tf.reader.stat()
            except OSError:
                continue
            if st.st_nlink != 0:
                continue
            if self._rewritten(tf, st.st_size):
                # Truncated, then deleted before a poll saw it: a partial line held from the old
                # content must not ship as if it were whole; the new content is read instead.
                self._truncated(tf, st.st_size)
            while not self._stopping.is_set():
                data = tf.reader.read(tf.input.settings.read_buffer_bytes)
                if not data:
                    break
                self._ship(tf, tf.stages.feed(data))
            if self._stopping.is_set():
                return
            self._ship(tf, tf.stages.drain(), flushed=True)
            self._close(tf, reason="deleted, read to its end before stopping", deleted=True)

    @property
    def open_files(self) -> int:
        """How many files are open now."""
        return len(self._files)

    @property
    def waiting_files(self) -> int:
        """How many matched files wait for one of the `max_open_files` slots."""
        return len(self._waiting)

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

    # --- one round ------------------------------------------------------------------------

    def run_round(self, now: float) -> tuple[bool, float]:
        """Scans if due, reads every due file once. Returns (read anything?, when the next file is due)."""
        wake = self._rescan.is_set() and now - self._last_scan >= _MIN_RESCAN_GAP
        if now >= self._next_scan or wake:
            self._rescan.clear()
            self._scan(now)
            self._last_scan = now
            self._next_scan = now + min(inp.settings.scan_interval for inp in self.inputs)
        self._written_to(now)
        busy = False
        for key in self._polls.due(now):
            tf = self._files.get(key)
            if tf is None:
                continue
            if self._stopping.is_set() or self._behind_predecessor(tf):
                self._polls.set(key, now)  # still due: next round
                continue
            busy = self._poll(tf, now) or busy
        self._fill_slots()
        self.metrics.files_watched.set(self._file_wake.armed)
        due = self._polls.next()
        return busy, self._next_scan if due is None else min(due, self._next_scan)

    def _written_to(self, now: float) -> None:
        """Makes the files whose watch fired (written to while quiet) due now, backoff reset."""
        for key in self._file_wake.fired():
            tf = self._files.get(key)
            if tf is not None:
                self._polls.set(key, now)
                tf.idle_polls = 0
                tf.woken_from_quiet = now - tf.last_data >= _QUIET
                tf.missed_events = 0  # the watch works: only misses in a row count
                self.metrics.file_wakeups.labels(tf.input.name).inc()
            elif key in self._closed_watched:  # closed as inactive, written again: reopen now
                name, path = self._closed_watched.pop(key)
                for inp in self.inputs:
                    if inp.name == name:
                        self.metrics.file_wakeups.labels(name).inc()
                        self._consider(inp, path, now, time.time())

    def _behind_predecessor(self, tf: _TailedFile) -> bool:
        """True until the file this one replaced (renamed away) has been read to its end.

        "Its end" means an empty read *after* this file appeared: an end seen before the rename
        says nothing about what the app wrote to it just before the rename.
        """
        pred = tf.predecessor
        if pred is None:
            return False
        if pred.key in self._files and pred.eof_polls <= tf.predecessor_eofs:
            return True
        tf.predecessor = None
        return False

    # --- discovery ------------------------------------------------------------------------

    def _scan(self, now: float) -> None:
        seen: list[str] = []
        wall = time.time()
        for inp in self.inputs:
            paths = [p for p in inp.finder.scan() if inp.wants(p)]
            self._skipped_links(inp)
            if inp.settings.watch == "inotify":
                self._watcher.ensure(inp.finder.watch_roots())
            if not paths and inp.name not in self._warned_empty:
                self._warned_empty.add(inp.name)
                log.warning(
                    "No file matches the input's paths yet; watching for them.",
                    extra={"input": inp.name, "paths": inp.settings.paths},
                )
            for path in paths:
                key = self._consider(inp, path, now, wall)
                if key is not None:
                    seen.append(key)
        self.registry.seen(seen, wall, refresh_after=min(60.0, self.clean_removed_after / 4))
        gone = self.registry.prune(wall, self.clean_removed_after, keep=self._files)
        for key in gone:
            self.acks.forget(key)
            self._closed.pop(key, None)
            if self._closed_watched.pop(key, None) is not None:
                self._file_wake.disarm(key)
        self.scans += 1
        self.metrics.files_open.set(len(self._files))

    def _skipped_links(self, inp: InputRuntime) -> None:
        """Warns once about each link the scan did not follow (again if it goes and comes back)."""
        outside = inp.finder.outside_links
        warned = self._warned_links.get(inp.name, set())
        for path, target in outside.items():
            if path not in warned:
                self._refuse_link(inp, path, target)
        self._warned_links[inp.name] = set(outside)

    def _refuse_link(self, inp: InputRuntime, path: str, target: str) -> None:
        self.metrics.symlinks_skipped.labels(inp.name).inc()
        log.warning(
            "Not following a symlink out of the input's folders; list the target's folder in "
            "follow_symlinks to read it.",
            extra={"input": inp.name, "path": path, "target": target},
        )

    def _consider(self, inp: InputRuntime, path: str, now: float, wall: float) -> str | None:
        """Opens a matched file if it is new or grew since it was closed; returns its key."""
        try:
            st = os.stat(path)
        except OSError:
            return None  # gone between glob and stat
        key = FileIdentity.of(st).key
        if key in self._files:
            return key
        if not self.shard.owns(key):
            return None  # another worker's file
        closed = self._closed.get(key)
        if closed is not None and st.st_size <= closed.size and st.st_mtime == closed.mtime:
            return key  # closed earlier and unchanged since
        settings = inp.settings
        if (
            settings.ignore_older is not None
            and closed is None
            and self.registry.saved(key) is None
            and wall - st.st_mtime > settings.ignore_older
        ):
            return key
        if len(self._files) >= self.max_open_files:
            if path not in self._waiting_paths:
                self._waiting.append((inp, path))
                self._waiting_paths.add(path)
            return key
        self._open(inp, path, key, st.st_size, now)
        return key

    def _fill_slots(self) -> None:
        now = time.monotonic()
        while self._waiting and len(self._files) < self.max_open_files:
            inp, path = self._waiting.popleft()
            self._waiting_paths.discard(path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = FileIdentity.of(st).key
            if key not in self._files:
                self._open(inp, path, key, st.st_size, now)

    def _open(self, inp: InputRuntime, path: str, key: str, size: int, now: float) -> None:
        reader_class = GzipFileReader if path.endswith(".gz") else FileReader
        try:
            reader = reader_class(path, 0)
        except OSError as exc:
            self._open_failed(inp, path, exc)
            return
        if reader.identity.key != key:  # replaced between stat and open: next scan
            reader.close()
            return
        if not inp.finder.opened_inside(reader.fd, path):  # a link swapped since the scan
            reader.close()
            self._refuse_link(inp, path, os.path.realpath(path))
            return
        self._failed_paths.pop(path, None)
        self._closed_watched.pop(key, None)
        reader.offset = self._start_offset(inp, reader, size, self._closed.pop(key, None))
        tf = _TailedFile(inp, path, reader, now)
        for other in self._files.values():
            if other.path == path and other.input is inp:
                tf.predecessor = other  # rotated away from this path: read it out first
                tf.predecessor_eofs = other.eof_polls
                self._polls.set(other.key, now)
                self.metrics.rotations.labels(inp.name).inc()
        self._files[key] = tf
        self._polls.set(key, now)
        self.acks.track(key, reader.offset)
        self.registry.describe(key, path, tf.fp_hash, tf.fp_bytes, self._acked(key, reader.offset))
        self.metrics.files_open.set(len(self._files))
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
            if size < saved.offset and not isinstance(reader, GzipFileReader):
                log.warning(
                    "File is shorter than its checkpoint (truncated while stopped); reading from 0.",
                    extra={"path": reader.path, "checkpoint": saved.offset, "size": size},
                )
                self.metrics.truncations.labels(inp.name).inc()
                self.acks.reset(key, 0)
                return 0
            return saved.offset
        if closed is not None:  # closed this run, now a different file under the same inode
            self.acks.reset(key, 0)
            return 0
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
            if not self._same_generation(tf):
                self._truncated(tf, -1)  # what was just read belongs to the new content: re-read it
                return True
            tf.last_data = now
            tf.idle_polls = 0
            self._polls.set(tf.key, now)
            self._active.add(tf.key)
            if self._file_wake.is_armed(tf.key):
                self._missed_event(tf)
            self._m[tf.input.name][1].inc(len(data))
            if len(tf.head) < FINGERPRINT_BYTES:
                tf.head = head(tf.reader.fd)
                tf.fp_hash, tf.fp_bytes = fingerprint(tf.reader.fd)
                self.registry.describe(
                    tf.key, tf.path, tf.fp_hash, tf.fp_bytes, self._acked(tf.key, 0)
                )
            self._ship(tf, tf.stages.feed(data))
            return True
        self._at_end(tf, now)
        return False

    def _rewritten(self, tf: _TailedFile, size: int) -> bool:
        """True if a file read to its end was truncated since: it is shorter than what was read,
        or as long but with other first bytes (truncated and written again up to the same
        length between two polls: copytruncate racing a writer; the size alone cannot tell)."""
        if isinstance(tf.reader, GzipFileReader):
            return False
        offset = tf.reader.offset
        return size < offset or (size == offset > 0 and not self._same_generation(tf))

    def _same_generation(self, tf: _TailedFile) -> bool:
        """True if the file still starts with the bytes it started with when opened."""
        if isinstance(tf.reader, GzipFileReader) or not tf.head:
            return True
        return os.pread(tf.reader.fd, len(tf.head), 0) == tf.head

    def _at_end(self, tf: _TailedFile, now: float) -> None:
        """Nothing new: flush what waited long enough; notice truncation, removal, inactivity."""
        settings = tf.input.settings
        tf.idle_polls += 1
        tf.eof_polls += 1
        idle = now - tf.last_data
        if tf.stages.holding:
            self._ship(tf, tf.stages.flush_due(idle), flushed=True)
        # A file woken after a quiet spell most likely wrote one burst: watched again at once,
        # it costs no re-checks; one that was busy a moment ago is re-checked first.
        watched = (tf.idle_polls >= _WATCH_AFTER or tf.woken_from_quiet) and self._watch(tf)
        tf.woken_from_quiet = False
        delay = settings.poll_interval * _MAX_IDLE_BACKOFF
        if tf.stages.holding or self._waiting or not self._file_wake.is_armed(tf.key):
            # Without a watch (or with something to flush, or a slot to give up, in time),
            # quiet files are re-checked at doubling intervals; a watched one reports its next
            # write, so its timer is only the safety net (and the close_inactive clock).
            delay = min(_FIRST_RECHECK * 2 ** min(tf.idle_polls - 1, 30), delay)
        else:
            delay = max(_FIRST_RECHECK, min(delay, settings.close_inactive - idle))
        self._polls.set(tf.key, _on_grid(now + delay, delay))
        if tf.idle_polls >= _SETTLED_AFTER or self._file_wake.is_armed(tf.key):
            self._active.discard(tf.key)  # a watch reports its next write; or quiet a while
        try:
            st = tf.reader.stat()
        except OSError:
            return
        if watched and st.st_size > tf.reader.offset:
            # Written between the read and the watch: no event will report it. Read it now;
            # the file is watched again at its next end.
            self._file_wake.disarm(tf.key)
            self._polls.set(tf.key, now)
        if self._rewritten(tf, st.st_size):
            self._truncated(tf, st.st_size)
        elif st.st_nlink == 0:
            self._ship(tf, tf.stages.drain(), flushed=True)
            self._close(tf, reason="deleted", deleted=True)
        elif idle >= settings.close_inactive:
            if tf.reader.path_points_here():
                self._close(tf, reason="inactive", watch=True)
            else:
                self._ship(tf, tf.stages.drain(), flushed=True)
                self._close(tf, reason="renamed and inactive")
        elif self._waiting and not tf.stages.holding:
            self._close(tf, reason="yielding its slot to a waiting file")

    def _watch(self, tf: _TailedFile) -> bool:
        """Arms a one-shot watch on a quiet file, so its next write wakes the tailer at once."""
        if tf.input.settings.watch != "inotify" or isinstance(tf.reader, GzipFileReader):
            return False
        if self._file_wake.is_armed(tf.key) or tf.missed_events >= _MISSES_BEFORE_POLLING:
            return False  # armed at an earlier end (the size check was done then), or useless
        failures = self._file_wake.failures
        if self._file_wake.arm(tf.key, tf.reader.fd):
            return True
        self.metrics.file_watch_failures.inc(self._file_wake.failures - failures)
        return False

    def _missed_event(self, tf: _TailedFile) -> None:
        """A read found data before the watch reported it: a race, or writes inotify cannot
        see (NFS, FUSE: another host's writes). After three in a row, the file is left to its
        timer."""
        tf.missed_events += 1
        if tf.missed_events < _MISSES_BEFORE_POLLING:
            return
        self._file_wake.disarm(tf.key)
        self.metrics.file_watch_failures.inc()
        log.info(
            "Writes to this file are not reported by inotify (a network file system?); "
            "it is polled instead.",
            extra={"path": tf.path, "file_key": tf.key},
        )

    def _truncated(self, tf: _TailedFile, size: int) -> None:
        log.warning(
            "File truncated (copytruncate?); reading it again from the start.",
            extra={"path": tf.path, "offset": tf.reader.offset, "size": size},
        )
        self.metrics.truncations.labels(tf.input.name).inc()
        self.acks.reset(tf.key, 0)
        tf.reader.offset = 0
        tf.stages = LineStages(0, tf.input.settings)
        tf.registered_end = 0
        tf.head = head(tf.reader.fd)
        tf.fp_hash, tf.fp_bytes = fingerprint(tf.reader.fd)
        self.registry.describe(tf.key, tf.path, tf.fp_hash, tf.fp_bytes, 0)
        self._polls.set(tf.key, time.monotonic())
        tf.idle_polls = 0

    def _close(
        self, tf: _TailedFile, reason: str, deleted: bool = False, watch: bool = False
    ) -> None:
        """Closes a file; with `watch`, a write to it reopens it at once (not at the next scan)."""
        if self._files.pop(tf.key, None) is None:
            return
        self._polls.remove(tf.key)
        self._active.discard(tf.key)
        watch = watch and len(self._closed_watched) < self.max_open_files
        if watch:
            self._watch(tf)  # usually armed already: it has been quiet for close_inactive
        if watch and self._file_wake.is_armed(tf.key):
            self._closed_watched[tf.key] = (tf.input.name, tf.path)
        else:
            self._file_wake.disarm(tf.key)
        resume = tf.stages.emitted_end
        if not deleted:
            try:
                st = tf.reader.stat()
                self._closed[tf.key] = _Closed(
                    resume, tf.fp_hash, tf.fp_bytes, st.st_size, st.st_mtime
                )
            except OSError:
                pass
        tf.reader.close()
        self.metrics.files_open.set(len(self._files))
        log.info("File closed.", extra={"path": tf.path, "reason": reason, "offset": resume})

    def _ship(self, tf: _TailedFile, lines: Lines, flushed: bool = False) -> None:
        """Parses events and queues the records with one ack ticket (per chunk, not per line)."""
        inp = tf.input
        m_lines, _, m_truncated, m_unmatched, m_flushed, m_cut = self._m[inp.name]
        if lines.truncated_bytes:
            m_cut.inc(lines.truncated_bytes)
        if lines.end <= tf.registered_end and not lines.texts:
            return
        entries, stats = parse_events(inp.chain, lines, tf.file_info, tf.file_fields)
        m_lines.inc(len(lines))
        if flushed and lines.texts:
            m_flushed.inc(len(lines))
        if lines.truncated:
            m_truncated.inc(len(lines.truncated))
        if stats.unmatched:
            m_unmatched.inc(stats.unmatched)
        for rule, n in stats.matched.items():
            self.metrics.records_parsed.labels(inp.name, rule).inc(n)
        for (rule, reason), n in stats.field_errors.items():
            self.metrics.parse_errors.labels(inp.name, rule, reason).inc(n)
        for rule, n in stats.dropped.items():
            self.metrics.records_dropped.labels(inp.name, rule).inc(n)
        for observer in self.observers:
            observer.observe(inp.name, entries)
        tf.registered_end = lines.end
        ticket = self.acks.register(tf.key, lines.end, len(inp.queues) if entries else 0)
        if not entries:
            return
        nbytes = max(lines.end - lines.starts[0], 1)
        batch = Batch(entries, [ticket], nbytes)
        if inp.encode:
            try:
                batch = Batch.encoded(encode_ndjson(entries), len(entries), [ticket], nbytes)
            except orjson.JSONEncodeError:
                # A record JSON cannot hold (an integer beyond 64 bits): the dicts go on, and
                # the sink worker dead-letters exactly the records that cannot be encoded.
                pass
        for queue in inp.queues:
            if not queue.put(batch):
                return  # stopping: not queued means not acked, so re-read after restart


def _distinct_queues(inputs: Sequence[InputRuntime]) -> list[SinkQueue]:
    """Every sink queue the inputs feed, each once."""
    return list({id(q): q for inp in inputs for q in inp.queues}.values())


def _on_grid(when: float, delay: float) -> float:
    """`when`, rounded up to a multiple of an eighth to a quarter of `delay`.

    Every file's polls fall on the same grid, so quiet files come due together and are polled
    in one round (one wake-up of the thread), where wake-ups would otherwise scatter their
    schedules into a round each.
    """
    quantum = _FIRST_RECHECK
    while quantum * 8 <= delay:
        quantum *= 2
    return math.ceil(when / quantum) * quantum
