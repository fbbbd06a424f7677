"""Metrics computed when /metrics is scraped, from the pipeline's live state (never on the hot path).

Checkpoint lag per file is the file's size now minus its acknowledged offset: the bytes written
to the file that no sink has acknowledged yet (unread, queued or in flight). It is 0 once
everything written has been delivered. Only open files are listed: a file is closed once it is
read to its end and quiet, or gone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily, Metric

from logship.core.ack import AckTracker
from logship.core.metrics import Metrics
from logship.observe.health import Health, WorkerView
from logship.tail.files import FileState


class FileStates(Protocol):
    """What the lag needs from the tailer."""

    def file_states(self) -> list[FileState]:
        """The open files now."""


def file_lags(tailer: FileStates, acks: AckTracker) -> list[tuple[FileState, int]]:
    """(file state, acknowledged offset) for every open file now."""
    marks = acks.watermarks()
    return [(state, marks.get(state.key, state.read_offset)) for state in tailer.file_states()]


class LiveMetrics:
    """A prometheus collector for the scrape-time gauges; `refresh` updates the stored gauges."""

    def __init__(
        self,
        metrics: Metrics,
        tailer: FileStates,
        acks: AckTracker,
        workers: Sequence[WorkerView],
        health: Health,
        input_names: Sequence[str],
    ) -> None:
        self.metrics = metrics
        self.tailer = tailer
        self.acks = acks
        self.workers = list(workers)
        self.health = health
        self.input_names = list(input_names)

    def refresh(self) -> None:
        """Sets the queue gauges to the queues' depth now (the workers set them only on take)."""
        for worker in self.workers:
            name = worker.sink.name
            self.metrics.queue_events.labels(name).set(worker.queue.events)
            self.metrics.queue_bytes.labels(name).set(worker.queue.nbytes)

    def collect(self) -> Iterator[Metric]:
        """Lag per file and per input, sink readiness and last delivery time."""
        lag = GaugeMetricFamily(
            "logship_file_lag_bytes",
            "Bytes of an open file not yet acknowledged by every sink (size - acknowledged offset).",
            labels=["input", "path"],
        )
        unread = GaugeMetricFamily(
            "logship_file_unread_bytes",
            "Bytes of an open file not read yet (size - read offset).",
            labels=["input", "path"],
        )
        input_lag = GaugeMetricFamily(
            "logship_input_lag_bytes",
            "Sum of logship_file_lag_bytes over the input's open files.",
            labels=["input"],
        )
        totals = dict.fromkeys(self.input_names, 0)
        for state, acked in file_lags(self.tailer, self.acks):
            file_lag = max(0, state.size - acked)
            lag.add_metric([state.input, state.path], file_lag)
            unread.add_metric([state.input, state.path], max(0, state.size - state.read_offset))
            totals[state.input] = totals.get(state.input, 0) + file_lag
        for name, total in totals.items():
            input_lag.add_metric([name], total)
        yield lag
        yield unread
        yield input_lag

        ready = GaugeMetricFamily(
            "logship_sink_ready",
            "1 when the sink is reachable and making progress (what /readyz requires), else 0.",
            labels=["sink"],
        )
        _, checks = self.health.readiness()
        by_name = {c.component: c.ok for c in checks}
        last = GaugeMetricFamily(
            "logship_sink_last_delivery_timestamp_seconds",
            "Unix time of the sink's last successful send (0: none yet).",
            labels=["sink"],
        )
        for worker in self.workers:
            name = worker.sink.name
            ready.add_metric([name], 1.0 if by_name.get(f"sink:{name}") else 0.0)
            last.add_metric([name], worker.last_delivery)
        yield ready
        yield last
        yield from self._spools()

    def _spools(self) -> Iterator[Metric]:
        """Size, records and oldest record age of each sink's disk spool (sinks with one)."""
        size = GaugeMetricFamily(
            "logship_spool_bytes",
            "Bytes of a sink's disk spool (segments and state; never above max_bytes).",
            labels=["sink"],
        )
        records = GaugeMetricFamily(
            "logship_spool_records", "Records in a sink's disk spool.", labels=["sink"]
        )
        age = GaugeMetricFamily(
            "logship_spool_oldest_age_seconds",
            "Age of the oldest record in a sink's disk spool (0 when empty).",
            labels=["sink"],
        )
        now = time.time()
        for worker in self.workers:
            stats = worker.queue.spool_stats()
            if stats is None:
                continue
            name = worker.sink.name
            size.add_metric([name], stats.nbytes)
            records.add_metric([name], stats.records)
            age.add_metric([name], max(0.0, now - stats.oldest) if stats.oldest else 0.0)
        yield size
        yield records
        yield age

    def describe(self) -> Iterator[Metric]:
        """The families' names without computing them."""
        families: list[tuple[type[Any], str, list[str]]] = [
            (GaugeMetricFamily, "logship_file_lag_bytes", ["input", "path"]),
            (GaugeMetricFamily, "logship_file_unread_bytes", ["input", "path"]),
            (GaugeMetricFamily, "logship_input_lag_bytes", ["input"]),
            (GaugeMetricFamily, "logship_sink_ready", ["sink"]),
            (GaugeMetricFamily, "logship_sink_last_delivery_timestamp_seconds", ["sink"]),
            (GaugeMetricFamily, "logship_spool_bytes", ["sink"]),
            (GaugeMetricFamily, "logship_spool_records", ["sink"]),
            (GaugeMetricFamily, "logship_spool_oldest_age_seconds", ["sink"]),
        ]
        for kind, name, labels in families:
            yield kind(name, "", labels=labels)
