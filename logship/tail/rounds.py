"""One round of the tailer's work over every input and open file (`TailRounds.run_round`); the
thread that runs rounds, stops and reloads is `logship.tail.tailer.Tailer`.

Per round:

1. rescans the globs when `scan_interval` has passed or a folder event (inotify) asked for it;
2. reads one chunk from every open file that is due (`logship.tail.scheduling`: a file that
   returned data is due again at once, a quiet one at doubling intervals, a watched one when
   it is written to);
3. at a file's end: flushes partial lines and multiline events whose wait is over, notices
   truncation (copytruncate), deletion and inactivity (`logship.tail.rotation`), and when
   files are waiting for one of the `max_open_files` slots, closes the file to give its slot
   to the next (fair sharing);
4. prunes registry entries of files no scan has found for `clean_removed_after`.

Where a file opened starts is `logship.tail.resume`; what happens to the lines read is
`logship.tail.shipping`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence

from logship.core.ack import AckTracker
from logship.core.lines import Lines
from logship.core.metrics import Metrics
from logship.state.registry import FileRegistry
from logship.state.shard import Shard
from logship.tail.file_wake import FileWakeups
from logship.tail.files import (
    ClosedFile,
    InputRuntime,
    RecordObserver,
    TailedFile,
)
from logship.tail.identity import FINGERPRINT_BYTES, FileIdentity, fingerprint, head
from logship.tail.notices import Notices
from logship.tail.pod_context import WAIT_POLL
from logship.tail.poll_schedule import PollSchedule
from logship.tail.reader import FileReader, GzipFileReader
from logship.tail.resume import start_offset
from logship.tail.rotation import (
    behind_predecessor,
    grew,
    restart_truncated,
    rewritten,
    same_generation,
)
from logship.tail.scheduling import (
    MIN_RESCAN_GAP,
    QUIET,
    SETTLED_AFTER,
    WATCH_AFTER,
    FileSlots,
    idle_delay,
    on_grid,
)
from logship.tail.shipping import Shipper
from logship.tail.watcher import DirectoryWatcher
from logship.tail.watching import missed_event, watch

log = logging.getLogger("logship.tail.tailer")  # the tailer's messages, under its name


class TailRounds:
    """The tailer's state and the work of one round; `Tailer` runs rounds on its thread."""

    def __init__(
        self,
        inputs: Sequence[InputRuntime],
        acks: AckTracker,
        registry: FileRegistry,
        metrics: Metrics,
        observers: Sequence[RecordObserver],
        max_open_files: int,
        clean_removed_after: float,
        shard: Shard,
    ) -> None:
        self.inputs = list(inputs)
        self.acks = acks
        self.registry = registry
        self.metrics = metrics
        self.max_open_files = max_open_files
        self.shard = shard
        self.clean_removed_after = clean_removed_after
        self._stopping = threading.Event()
        self._wake = threading.Event()  # the tailer waits on it; whoever wants a round sets it
        self._rescan = threading.Event()  # a folder event: rescan soon
        self._watcher = DirectoryWatcher(self._rescan, self._wake)
        self._file_wake = FileWakeups(self._wake)
        self._files: dict[str, TailedFile] = {}
        self._polls = PollSchedule()  # when each open file is due for its next read
        self._active: set[str] = set()  # files that returned data and may return more soon
        self._closed: dict[str, ClosedFile] = {}  # files closed this run, by key
        self._closed_watched: dict[str, tuple[str, str]] = {}  # key -> (input, path): inactive
        self._waiting = FileSlots()  # matched files waiting for a free slot
        self._notices = Notices(metrics)
        self._next_scan = 0.0
        self._last_scan = -MIN_RESCAN_GAP
        self.scans = 0
        """How many discovery scans have completed (the first one applies `start_at: end`)."""
        self._shipper = Shipper(acks, metrics, observers)
        for inp in self.inputs:  # every input's series exist (at 0) before its first line
            self._shipper.of(inp.name)

    # --- one round ------------------------------------------------------------------------

    def run_round(self, now: float) -> tuple[bool, float]:
        """Scans if due, reads every due file once. Returns (read anything?, when the next file is due)."""
        wake = self._rescan.is_set() and now - self._last_scan >= MIN_RESCAN_GAP
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
            if self._stopping.is_set() or behind_predecessor(tf, self._files):
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
                tf.woken_from_quiet = now - tf.last_data >= QUIET
                tf.missed_events = 0  # the watch works: only misses in a row count
                self.metrics.file_wakeups.labels(tf.input.name).inc()
            elif key in self._closed_watched:  # closed as inactive, written again: reopen now
                name, path = self._closed_watched.pop(key)
                for inp in self.inputs:
                    if inp.name == name:
                        self.metrics.file_wakeups.labels(name).inc()
                        self._consider(inp, path, now, time.time())

    # --- discovery ------------------------------------------------------------------------

    def _scan(self, now: float) -> None:
        seen: list[str] = []
        wall = time.time()
        for inp in self.inputs:
            if inp.settings.watch == "inotify":
                # Before the listing: a file created after it then raises a folder event
                # (watchdog adds the watch before `ensure` returns); armed after it, such a
                # file waited for the next scan.
                self._watcher.ensure(inp.finder.watch_roots())
            paths = [p for p in inp.finder.scan() if inp.wants(p)]
            self._notices.skipped_links(inp)
            self._notices.matched(inp, paths)
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
            self._waiting.wait(inp, path)
            return key
        self._open(inp, path, key, st.st_size, now)
        return key

    def _fill_slots(self) -> None:
        now = time.monotonic()
        while self._waiting and len(self._files) < self.max_open_files:
            inp, path = self._waiting.next()
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
            self._notices.open_failed(inp, path, exc)
            return
        if reader.identity.key != key:  # replaced between stat and open: next scan
            reader.close()
            return
        if not inp.finder.opened_inside(reader.fd, path):  # a link swapped since the scan
            reader.close()
            self._notices.refused_link(inp, path, os.path.realpath(path))
            return
        self._notices.opened(path)
        self._closed_watched.pop(key, None)
        closed = self._closed.pop(key, None)
        reader.offset = start_offset(
            inp, reader, size, closed, self.scans == 0, self.registry, self.acks, self.metrics
        )
        tf = TailedFile(inp, path, reader, now)
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

    def _acked(self, key: str, default: int) -> int:
        mark = self.acks.watermark(key)
        return default if mark is None else mark

    # --- reading --------------------------------------------------------------------------

    def _poll(self, tf: TailedFile, now: float) -> bool:
        """Reads one chunk of a due file. True if data was read."""
        if tf.pod is not None and not tf.pod_ready(now):
            self._polls.set(tf.key, now + WAIT_POLL)  # its pod's metadata may come (bounded)
            return False
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
            if not same_generation(tf):
                self._truncated(tf, -1)  # what was just read belongs to the new content: re-read it
                return True
            tf.last_data = now
            tf.idle_polls = 0
            self._polls.set(tf.key, now)
            self._active.add(tf.key)
            if self._file_wake.is_armed(tf.key):
                missed_event(self._file_wake, tf, self.metrics)
            self._shipper.of(tf.input.name).bytes_read.inc(len(data))
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

    def _at_end(self, tf: TailedFile, now: float) -> None:
        """Nothing new: flush what waited long enough; notice truncation, removal, inactivity."""
        settings = tf.input.settings
        tf.idle_polls += 1
        tf.eof_polls += 1
        idle = now - tf.last_data
        if tf.stages.holding:
            self._ship(tf, tf.stages.flush_due(idle), flushed=True)
        # A file woken after a quiet spell most likely wrote one burst: watched again at once,
        # it costs no re-checks; one that was busy a moment ago is re-checked first.
        if tf.idle_polls >= WATCH_AFTER or tf.woken_from_quiet:
            self._watch(tf)
        tf.woken_from_quiet = False
        armed = self._file_wake.is_armed(tf.key)
        delay = idle_delay(
            tf.idle_polls,
            settings.poll_interval,
            settings.close_inactive,
            idle,
            watched=armed and not tf.stages.holding and not self._waiting,
        )
        self._polls.set(tf.key, on_grid(now + delay, delay))
        if tf.idle_polls >= SETTLED_AFTER or self._file_wake.is_armed(tf.key):
            self._active.discard(tf.key)  # a watch reports its next write; or quiet a while
        try:
            st = tf.reader.stat()
        except OSError:
            return
        if rewritten(tf, st.st_size):
            self._truncated(tf, st.st_size)
        elif grew(tf, st.st_size):
            # Written between the read and this stat: no watch event will report it, and a
            # file deleted or renamed meanwhile must not be closed before it is read. Read it
            # now; it is watched again at its next end.
            self._file_wake.disarm(tf.key)
            self._polls.set(tf.key, now)
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

    def _watch(self, tf: TailedFile) -> bool:
        return watch(self._file_wake, tf, self.metrics)

    def _truncated(self, tf: TailedFile, size: int) -> None:
        restart_truncated(tf, size, self.acks, self.registry, self.metrics)
        self._polls.set(tf.key, time.monotonic())

    def _close(
        self, tf: TailedFile, reason: str, deleted: bool = False, watch: bool = False
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
                self._closed[tf.key] = ClosedFile(
                    resume, tf.fp_hash, tf.fp_bytes, st.st_size, st.st_mtime
                )
            except OSError:
                pass
        tf.reader.close()
        self.metrics.files_open.set(len(self._files))
        log.info("File closed.", extra={"path": tf.path, "reason": reason, "offset": resume})

    def _ship(self, tf: TailedFile, lines: Lines, flushed: bool = False) -> None:
        self._shipper.ship(tf, lines, flushed)
