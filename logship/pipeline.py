"""Pipeline: the wiring. The one module that knows inputs, parsers and sinks together.

It builds every component from a validated Config: parser chains per input, a sink, queue and
worker per sink, the ack tracker, the registry and checkpoint store, and the tailer.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from logship.ack import AckTracker
from logship.checkpoint import CheckpointError, CheckpointStore
from logship.config import Config
from logship.dead_letter import DeadLetterFile
from logship.metrics import Metrics
from logship.registry import FileRegistry
from logship.sink import Sink, SinkError
from logship.sink_queue import SinkQueue
from logship.sink_worker import SinkWorker
from logship.tailer import InputRuntime, Tailer
from parsers.chain import build_chains
from sinks.catalog import build_sink

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The agent cannot start; the message names the config key or file and what to do."""


class Pipeline:
    """Every runtime component of one agent, built from a Config, not yet started."""

    def __init__(self, config: Config, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.data_dir = config.agent.data_dir
        self.acks = AckTracker()
        self.store = CheckpointStore(self.data_dir)
        self.registry = FileRegistry({})
        self._lock_fd: int | None = None

        self.sinks: list[Sink] = [build_sink(s) for s in config.sinks]
        self.queues = [SinkQueue(s.queue.max_events, s.queue.max_bytes) for s in config.sinks]
        dead_letter_dir = self.data_dir / "dead-letter"
        self.workers = [
            SinkWorker(
                sink,
                settings,
                queue,
                self.acks,
                DeadLetterFile(dead_letter_dir, sink.name),
                self.metrics,
            )
            for sink, settings, queue in zip(self.sinks, config.sinks, self.queues, strict=True)
        ]

        chains = build_chains(config)
        own_files = frozenset(
            os.path.abspath(str(path))
            for s in config.sinks
            if (path := getattr(s, "path", None)) is not None
        )
        own_dir = os.path.abspath(self.data_dir) + os.sep
        self.inputs = [
            InputRuntime(
                settings=inp,
                chain=chains[inp.name],
                queues=self.queues,
                own_files=own_files,
                own_dirs=(own_dir,),
            )
            for inp in config.inputs
        ]
        self.tailer = Tailer(self.inputs, self.acks, self.registry, self.metrics)

    def open(self) -> None:
        """Claims the data folder, loads checkpoints and checks every sink; raises StartupError."""
        self._claim_data_dir()
        try:
            self.registry = FileRegistry(self.store.load())
        except CheckpointError as exc:
            raise StartupError(str(exc)) from None
        self.tailer.registry = self.registry
        for index, sink in enumerate(self.sinks):
            try:
                sink.healthcheck()
            except SinkError as exc:
                raise StartupError(f"sinks[{index}] ({sink.name}): {exc}") from None

    def _claim_data_dir(self) -> None:
        folder = Path(self.data_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
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
        probe = folder / ".write-test"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            os.close(fd)
            raise StartupError(
                f"agent.data_dir: cannot write in {folder}: {exc.strerror}"
            ) from None
        self._lock_fd = fd

    def start(self) -> None:
        """Starts the sink workers, then the tailer."""
        for worker in self.workers:
            worker.start()
        self.tailer.start()

    def checkpoint(self) -> bool:
        """Persists the acknowledged offsets if they changed; False (and logged) when the write failed."""
        try:
            written = self.store.save(self.registry.checkpoints(self.acks.watermarks()))
        except CheckpointError as exc:
            self.metrics.checkpoint_errors.inc()
            log.error("Checkpoint write failed.", extra={"error": str(exc)})
            return False
        if written:
            self.metrics.checkpoint_writes.inc()
        return True

    def release(self) -> None:
        """Releases the data folder lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
