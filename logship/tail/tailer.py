"""The tailer: one thread that finds files, reads them in chunks, turns them into events and
records, and queues them (the work of each round is `logship.tail.rounds`).

Each chunk's records get an ack ticket *before* they are queued; a full queue blocks this
thread, which is the backpressure. After a rename rotation the renamed file is read to its end
before its successor at the same path is read at all, so lines keep their order. `finish`
reads files deleted while open to their end; `reload` swaps inputs between two rounds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from logship.core.ack import AckTracker
from logship.core.metrics import Metrics
from logship.core.process import name_native_thread
from logship.state.registry import FileRegistry
from logship.state.shard import SINGLE, Shard
from logship.tail.files import (
    FileState,
    InputRuntime,
    RecordObserver,
    distinct_queues,
)
from logship.tail.rotation import rewritten
from logship.tail.rounds import TailRounds
from logship.tail.scheduling import (
    MIN_RESCAN_GAP,
)

log = logging.getLogger(__name__)


class Tailer(TailRounds, threading.Thread):
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
        threading.Thread.__init__(self, name="tailer", daemon=True)
        TailRounds.__init__(
            self,
            inputs,
            acks,
            registry,
            metrics,
            observers,
            max_open_files,
            clean_removed_after,
            shard,
        )
        self._finishing = threading.Event()
        self._queues = distinct_queues(self.inputs)
        self._pending_inputs: list[InputRuntime] | None = None
        self.error: BaseException | None = None

    @property
    def observers(self) -> list[RecordObserver]:
        """Who sees every chunk of records; assign a new list to change them (one assignment:
        the tailer thread sees the old list or the new one)."""
        return self._shipper.observers

    @observers.setter
    def observers(self, observers: list[RecordObserver]) -> None:
        self._shipper.observers = observers

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

    @property
    def reload_pending(self) -> bool:
        """True from `reload` until the tailer thread has swapped the new inputs in."""
        return self._pending_inputs is not None

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
            tf.rebind(inp)
        self._waiting.rebind(by_name)
        for name in by_name:
            self._shipper.of(name)
        self.inputs = list(new)
        self._queues = distinct_queues(self.inputs)
        self._notices.keep_inputs(set(by_name))
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
                    # A folder event came within MIN_RESCAN_GAP of the last scan: rescan soon.
                    due = min(due, self._last_scan + MIN_RESCAN_GAP)
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
            if rewritten(tf, st.st_size):
                # Truncated, then deleted before a poll saw it: a partial line held from the old
                # content must not ship as if it were whole; the new content is read instead,
                # from its start, even when it grew past what was read.
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
