"""Destination: one HTTP receiver of notifications — preset, outbox, `http` sink and its worker."""

from __future__ import annotations

from pathlib import Path

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import Sink
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.worker import SinkWorker
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.outbox import AlertOutbox
from logship.observe.alerts.presets import PRESETS
from logship.observe.alerts.settings import AlertDestinationSettings
from sinks.http.sink import HttpSink

_NOTIFICATION_BYTES = 1024
"""What one notification counts against `queue.max_bytes`, beside its message."""


class Destination:
    """Renders notifications with the preset into the outbox; a SinkWorker sends them with the
    `http` sink's retries, backoff and Retry-After, and dead-letters what the receiver rejects
    (`<data_dir>/dead-letter/<name>.jsonl`)."""

    def __init__(
        self,
        settings: AlertDestinationSettings,
        dead_letter_dir: Path,
        metrics: Metrics,
        suffix: str = "",
        sink: Sink | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.render = PRESETS[settings.preset]
        self.outbox = AlertOutbox(settings.queue.max_events, settings.queue.max_bytes)
        self.sink: Sink = sink if sink is not None else HttpSink(settings)
        self.worker = SinkWorker(
            self.sink,
            settings,
            self.outbox,
            AckTracker(),
            DeadLetterFile(dead_letter_dir, settings.name, suffix),
            metrics,
        )

    def offer(self, notification: Notification) -> None:
        """Queues the notification (never blocks; the oldest is dropped when full)."""
        doc = self.render(notification)
        nbytes = _NOTIFICATION_BYTES + len(notification.message)
        self.outbox.put(Batch([doc], [], nbytes))
