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
from logship.derived_metrics import DerivedMetrics
from logship.health import Health
from logship.http_endpoint import HttpEndpoint
from logship.live_metrics import LiveMetrics
from logship.metrics import Metrics, current_value
from logship.registry import FileRegistry
from logship.secrets import secret_values
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

        self.sinks: list[Sink] = [build_sink(s, self.metrics) for s in config.sinks]
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
        self.derived = DerivedMetrics(config.metrics)
        self.tailer = Tailer(
            self.inputs,
            self.acks,
            self.registry,
            self.metrics,
            observers=[self.derived] if self.derived else [],
            max_open_files=config.agent.max_open_files,
            clean_removed_after=config.agent.clean_removed_after,
        )
        self._wire_operations()

    def _wire_operations(self) -> None:
        """Health, scrape-time metrics, log-derived metrics and the HTTP endpoint (not yet bound)."""
        config = self.config
        self.metrics.declare_inputs([i.name for i in config.inputs])
        self.secrets = frozenset(secret_values(config.model_dump(mode="json")))
        """Config values never to show (/status, /healthz, self-logs)."""
        latency = self.metrics.sink_latency
        self.health = Health(
            self.tailer,
            self.workers,
            lambda sink: current_value(latency, {"sink": sink}, "_count"),
            stall_timeout=config.agent.http.stall_timeout,
            scan_interval=min(i.scan_interval for i in config.inputs),
            loop_interval=config.agent.checkpoint_interval,
        )
        self.live_metrics = LiveMetrics(
            self.metrics,
            self.tailer,
            self.acks,
            self.workers,
            self.health,
            [i.name for i in config.inputs],
        )
        self.metrics.registry.register(self.live_metrics)
        if self.derived:
            self.metrics.registry.register(self.derived)
        address = config.agent.http.host_port
        self.http = None if address is None else HttpEndpoint(self, *address)

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
        if self.http is not None:
            self._bind_http(self.http)

    def _bind_http(self, http: HttpEndpoint) -> None:
        """Binds the endpoint. A configured address that is taken stops the start; the default
        address being taken (another agent on this host) only turns the endpoint off, loudly:
        the endpoint observes the shipping, it must not stop it."""
        settings = self.config.agent.http
        try:
            http.bind()
        except OSError as exc:
            problem = f"cannot listen on {settings.address}: {exc.strerror or exc}"
            if "address" in settings.model_fields_set:
                raise StartupError(
                    f"agent.http.address: {problem}; choose a free port, or null to turn the "
                    f"endpoint off"
                ) from None
            log.warning(
                "HTTP endpoint off: the default address is taken; set agent.http.address to "
                "choose another (or null to silence this).",
                extra={"address": settings.address, "error": exc.strerror or str(exc)},
            )
            self.http = None

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
        """Starts the sink workers, then the tailer, then the HTTP endpoint."""
        for worker in self.workers:
            worker.start()
        self.tailer.start()
        self.health.start()
        if self.http is not None:
            self.http.start()

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
        """Stops the HTTP endpoint and releases the data folder lock."""
        if self.http is not None:
            self.http.stop()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
