"""Pipeline: the wiring. The one module that knows inputs, parsers and sinks together.

It builds every component from a validated Config: parser chains per input, a sink, queue and
worker per sink, the ack tracker, the registry and checkpoint store, and the tailer.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from logship.app.config import Config
from logship.app.enrich_wiring import attach_enrichment
from logship.app.exactly_once import ExactlyOnce
from logship.app.http_endpoint import HttpEndpoint, bind_or_disable
from logship.app.kube_wiring import AnnotationRules, kube_metadata
from logship.app.preflight import raise_problems
from logship.app.routes import build_queue, input_routes
from logship.app.sink_registry import build_sink, preload_sinks
from logship.app.status import pipeline_routes
from logship.core.ack import AckTracker
from logship.core.metrics import Metrics, current_value
from logship.core.secrets import secret_values
from logship.core.sink import Sink, SinkError
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.queue import SinkQueue
from logship.deliver.spool.queue import SpooledQueue
from logship.deliver.worker import SinkWorker
from logship.observe.derived_metrics import DerivedMetrics
from logship.observe.health import Health
from logship.observe.live_metrics import LiveMetrics
from logship.state.checkpoint import CheckpointError, CheckpointStore
from logship.state.data_dir import StartupError, claim
from logship.state.registry import FileRegistry
from logship.state.shard import SINGLE, Shard, consolidate, worker_port_file
from logship.tail.files import InputRuntime, RecordObserver
from logship.tail.tailer import Tailer
from parsers.chain import build_chains

if TYPE_CHECKING:
    from logship.observe.alerts.runtime import AlertRuntime

log = logging.getLogger(__name__)

__all__ = ["Pipeline", "StartupError"]

ALERT_DRAIN_TIMEOUT = 2.0
"""Seconds queued alert notifications get to go out at shutdown (after the logs are drained)."""


def preload(config: Config) -> None:
    """Imports what building `config`'s pipeline imports only on demand (its sinks' classes,
    alert delivery, the Kubernetes client): worker processes forked from this one then find
    them loaded instead of importing them each."""
    preload_sinks(config.sinks)
    if config.alerts:
        importlib.import_module("logship.observe.alerts.runtime")
    if config.agent.kubernetes is not None:
        importlib.import_module("logship.kube.source")


class Pipeline:
    """Every runtime component of one agent, built from a Config, not yet started."""

    def __init__(
        self, config: Config, metrics: Metrics | None = None, shard: Shard = SINGLE
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.shard = shard
        """Which files this process owns (all of them unless it is one of several workers)."""
        self.data_dir = config.agent.data_dir
        self.acks = AckTracker()
        self.store = CheckpointStore(self.data_dir, shard.registry_name)
        self.registry = FileRegistry({})
        self._lock_fd: int | None = None

        self.sinks: list[Sink] = [build_sink(s, self.metrics) for s in config.sinks]
        self.queues: list[SinkQueue] = [
            build_queue(
                s, sink.takes_ndjson, Path(self.data_dir), shard.suffix, self.acks, self.metrics
            )
            for s, sink in zip(config.sinks, self.sinks, strict=True)
        ]
        self.spools = [q for q in self.queues if isinstance(q, SpooledQueue)]
        """The queues with a disk spool (opened, i.e. recovered, in `open`)."""
        dead_letter_dir = self.data_dir / "dead-letter"
        self.workers = [
            SinkWorker(
                sink,
                settings,
                queue,
                self.acks,
                DeadLetterFile(dead_letter_dir, sink.name, shard.suffix),
                self.metrics,
            )
            for sink, settings, queue in zip(self.sinks, config.sinks, self.queues, strict=True)
        ]

        self.kube, self.pods = kube_metadata(config.agent.kubernetes, config.parsers, self.metrics)
        """Kubernetes metadata (`agent.kubernetes`) and the container files' binding to it."""
        self.exactly_once = ExactlyOnce(
            config.sinks, self.sinks, self.acks, config.agent.host_name, shard
        )
        """Sinks with `delivery: exactly_once` and what the pipeline does for them."""

        self.inputs = self._build_inputs(config)
        self.derived = DerivedMetrics(config.metrics)
        self.alerts = self._alert_runtime(config)
        """Alert rules: an observer of the tailer, with their own delivery threads."""
        observers: list[RecordObserver] = [self.derived] if self.derived else []
        if self.alerts is not None:
            observers.append(self.alerts.engine)
        self.tailer = Tailer(
            self.inputs,
            self.acks,
            self.registry,
            self.metrics,
            observers=observers,
            max_open_files=config.agent.max_open_files,
            clean_removed_after=config.agent.clean_removed_after,
            shard=shard,
        )
        self._wire_operations()

    def _build_inputs(self, config: Config) -> list[InputRuntime]:
        """The inputs as the tailer runs them, feeding this pipeline's sink queues."""
        chains = attach_enrichment(config, build_chains(config), self.metrics)
        own_files = frozenset(
            os.path.abspath(path) for s in self.sinks if (path := s.output_path) is not None
        )
        own_dir = os.path.abspath(self.data_dir) + os.sep
        inputs = []
        for inp in config.inputs:
            queues, routes = input_routes(inp, config.sinks, self.queues)
            takes = [
                sink.takes_ndjson
                for sink, q in zip(self.sinks, self.queues, strict=True)
                if q in queues
            ]
            inputs.append(
                InputRuntime(
                    settings=inp,
                    chain=chains[inp.name],
                    queues=queues,
                    own_files=own_files,
                    own_dirs=(own_dir,),
                    encode=all(takes),
                    routes=routes,
                    pods=self.pods,
                )
            )
        return inputs

    def reload(self, config: Config) -> list[str]:
        """Applies a new config's inputs and parser rules to the running pipeline.

        Checkpoints, queues and sinks stay as they are. Returns the parts of the new config
        that differ but need a restart to take effect (sinks, agent settings, metrics).
        """
        restart_needed = [
            section
            for section, old, new in (
                ("sinks", self.config.sinks, config.sinks),
                ("agent", self.config.agent, config.agent),
                ("metrics", self.config.metrics, config.metrics),
            )
            if old != new
        ]
        if self.pods is not None:  # annotations name the new config's rules from now on
            self.pods.reload(AnnotationRules(config.parsers))
        self.inputs = self._build_inputs(config)
        self._reload_alerts(config)
        self.tailer.reload(self.inputs)
        self.config = config.model_copy(
            update={
                "sinks": self.config.sinks,
                "agent": self.config.agent,
                "metrics": self.config.metrics,
            }
        )
        return restart_needed

    def _alert_runtime(self, config: Config) -> AlertRuntime | None:
        """The alert rules of `config` as a runtime (not started); None without rules."""
        if not config.alerts:
            return None
        # Imported here: alert delivery loads an HTTP client (urllib3) most agents never use.
        from logship.observe.alerts.runtime import AlertRuntime

        return AlertRuntime(
            config.alerts, config.agent.host_name, self.data_dir, self.metrics, self.shard.suffix
        )

    def _reload_alerts(self, config: Config) -> None:
        """New alert rules take over the old ones' windows, silences, firing groups and queued
        notifications (by rule and destination name), so a reload neither re-pages nor forgets."""
        old = self.alerts
        new = self._alert_runtime(config)
        if new is not None and old is not None:
            new.adopt(old)
        if old is not None:
            self.metrics.registry.unregister(old.collector)
        if new is not None:
            self.metrics.registry.register(new.collector)
            new.start()
        observers = [o for o in self.tailer.observers if old is None or o is not old.engine]
        if new is not None:
            observers.append(new.engine)
        self.tailer.observers = observers  # one assignment: the tailer sees the old or new list
        self.alerts = new
        if old is not None:
            old.close(1.0)  # its queued notifications moved to `new`

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
            components={"kubernetes": self.kube} if self.kube is not None else {},
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
        if self.alerts is not None:
            self.metrics.registry.register(self.alerts.collector)
        address = config.agent.http.host_port
        if address is not None and self.shard.count > 1:
            # A worker serves on a loopback port of its own; the supervisor, on the configured
            # address, answers for all workers (logship.app.federation).
            address = ("127.0.0.1", 0)
        self.http = None if address is None else HttpEndpoint(pipeline_routes(self), *address)

    def open(self) -> None:
        """Runs the start-up checks `logship check` runs, claims the data folder, loads
        checkpoints and checks every sink; raises StartupError."""
        raise_problems(self.config)
        self._lock_fd = claim(Path(self.data_dir), ".lock" + self.shard.suffix)
        if self.shard.count == 1:
            try:
                consolidate(Path(self.data_dir), 1)  # a previous run may have had several workers
            except CheckpointError as exc:
                raise StartupError(str(exc)) from None
        try:
            saved = self.store.load()
        except CheckpointError as exc:
            raise StartupError(str(exc)) from None
        for spool in self.spools:
            try:
                spool.open()
            except OSError as exc:
                raise StartupError(f"sinks ({spool.sink}).spool: {exc}") from None
        if self.kube is not None:
            try:
                self.kube.open()
            except ValueError as exc:
                raise StartupError(str(exc)) from None
        for index, sink in enumerate(self.sinks):
            try:
                sink.healthcheck()
            except SinkError as exc:
                raise StartupError(f"sinks[{index}] ({sink.name}): {exc}") from None
        try:
            saved = self.exactly_once.open(saved, self.store.sink_states)
        except (SinkError, OSError) as exc:
            raise StartupError(f"exactly_once: {exc}") from None
        self.registry = FileRegistry(saved)
        self.exactly_once.bind_registry(self.registry)
        self.tailer.registry = self.registry
        if self.exactly_once.lengths and not self.checkpoint():
            # The output's length at start must be on disk before anything is appended: a
            # crash before the first checkpoint would otherwise leave lines twice.
            raise StartupError("exactly_once: cannot save the output file's length; see above")
        if self.http is not None:
            self.http = bind_or_disable(self.http, self.config.agent.http)

    def start(self) -> None:
        """Starts the sink workers, then the tailer, then the HTTP endpoint."""
        for worker in self.workers:
            worker.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.kube is not None:
            self.kube.start()  # before the tailer: its first files wait for their pods (bounded)
        self.tailer.start()
        self.health.start()
        if self.http is not None:
            self.http.start()
            if self.shard.count > 1:
                worker_port_file(Path(self.data_dir), self.shard.index).write_text(
                    str(self.http.address[1])
                )

    def stop(self, timeout: float, hurry: threading.Event | None = None) -> bool:
        """Stops in the reverse of `start`, within `timeout` seconds; True if fully drained.

        Health first (a stopping agent is not wedged); the tailer reads files deleted while open
        to their end, then stops; the queues close and the workers drain them (unless `hurry` is
        set); a worker still busy at the deadline is abandoned (its records are not
        checkpointed, so they are read again next time); the final checkpoint; the sinks close;
        alert delivery and the HTTP endpoint stop and the data folder is released.
        """
        hurry = hurry or threading.Event()
        self.health.stop()
        deadline = time.monotonic() + timeout
        self.tailer.finish()
        while self.tailer.is_alive() and not hurry.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.tailer.join(timeout=min(remaining, 0.2))
        self.tailer.stop()
        self.tailer.join(timeout=5)
        if self.kube is not None:
            self.kube.stop()
        for queue in self.queues:
            queue.close()
        for worker in self.workers:
            while worker.is_alive() and not hurry.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                worker.join(timeout=min(remaining, 0.2))
        drained = True
        for worker, queue in zip(self.workers, self.queues, strict=True):
            if worker.is_alive():
                drained = False
                worker.abandon()
                worker.join(timeout=5)
                log.warning(
                    "Stopped without draining (a second stop signal): undelivered records are "
                    "not checkpointed and will be re-read."
                    if hurry.is_set()
                    else "Shutdown timeout: undelivered records are not checkpointed and will be "
                    "re-read.",
                    extra={
                        "sink": worker.sink.name,
                        "queued": queue.events,
                        "last_error": worker.last_error,
                    },
                )
        self.checkpoint()
        for spool in self.spools:
            spool.close_store()
        for sink in self.sinks:
            try:
                sink.close(max(1.0, deadline - time.monotonic()))
            except Exception:
                log.exception("Closing a sink failed.", extra={"sink": sink.name})
        self.release()
        return drained

    def checkpoint(self) -> bool:
        """Persists the acknowledged offsets if they changed; False (and logged) when the write failed."""
        try:
            entries, sink_states = self.exactly_once.checkpoint(self.registry)
            written = self.store.save(entries, sink_states)
        except CheckpointError as exc:
            self.metrics.checkpoint_errors.inc()
            log.error("Checkpoint write failed.", extra={"error": str(exc)})
            return False
        if written:
            self.metrics.checkpoint_writes.inc()
        return True

    def release(self) -> None:
        """Stops alert delivery and the HTTP endpoint; releases the data folder lock."""
        if self.alerts is not None:
            self.alerts.close(ALERT_DRAIN_TIMEOUT)
        if self.http is not None:
            self.http.stop()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
