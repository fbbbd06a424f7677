"""AlertRuntime: the engine, the destinations and the ticker, wired for one agent process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from logship.core.metrics import Metrics
from logship.core.sink import Sink
from logship.observe.alerts.destination import Destination
from logship.observe.alerts.engine import AlertEngine
from logship.observe.alerts.metrics import AlertCollector
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.settings import AlertsSettings

log = logging.getLogger(__name__)


class AlertRuntime:
    """Built from the `alerts:` section; `engine` is the tailer's RecordObserver.

    Threads: one SinkWorker per destination, and a ticker that lets time pass for the engine
    (resolves when logs are quiet). `close` gives queued notifications a short time to go out
    and abandons the rest (notifications are not persisted across restarts; a reload hands them
    over instead: `adopt`).
    """

    def __init__(
        self,
        settings: AlertsSettings,
        host_name: str,
        data_dir: Path,
        metrics: Metrics,
        suffix: str = "",
        clock: Callable[[], float] = time.time,
        sinks: Mapping[str, Sink] | None = None,
    ) -> None:
        self.settings = settings
        self.suffix = suffix
        dead_letters = data_dir / "dead-letter"
        self.destinations = [
            Destination(d, dead_letters, metrics, suffix, (sinks or {}).get(d.name))
            for d in settings.destinations
        ]
        self._by_name = {d.name: d for d in self.destinations}
        self.engine = AlertEngine(settings.rules, self.dispatch, host_name, clock)
        self.collector = AlertCollector(self.engine.counters, self.destinations)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="alerts", daemon=True)

    def dispatch(self, notification: Notification) -> None:
        """Logs the notification and queues it for its destinations (never blocks)."""
        group = dict(notification.group)
        log.log(
            logging.WARNING if notification.status == "firing" else logging.INFO,
            "Alert firing." if notification.status == "firing" else "Alert resolved.",
            extra={
                "rule": notification.rule,
                "severity": notification.severity,
                "group": group,
                "count": notification.count,
                "alert_message": notification.message,
            },
        )
        names = notification.destinations
        targets = [self._by_name[n] for n in names] if names else self.destinations
        for destination in targets:
            destination.offer(notification)

    def start(self) -> None:
        """Starts the delivery workers and the ticker."""
        if self.suffix:
            log.warning(
                "With several workers each evaluates the alert rules over its own files only: "
                "thresholds and groups count per worker (set agent.workers: 1 to count over all).",
                extra={"rules": len(self.settings.rules)},
            )
        for destination in self.destinations:
            destination.worker.start()
        self._ticker.start()

    def _tick_loop(self) -> None:
        interval = self.settings.tick_interval
        while not self._stop.wait(interval):
            try:
                self.engine.tick()
            except Exception:  # the ticker must outlive a bug in one tick
                log.exception("Alert tick failed.")

    def adopt(self, old: AlertRuntime) -> None:
        """Takes over an old runtime's state (a config reload): rule windows, silences and firing
        groups by rule name, and the notifications queued for destinations of the same name."""
        dropped = self.engine.adopt(old.engine.export())
        if dropped:
            log.info("Alert state not carried over.", extra={"rules": dropped})
        for destination in old.destinations:
            successor = self._by_name.get(destination.name)
            if successor is None:
                continue
            for batch in destination.outbox.drain():
                successor.outbox.put(batch)
            successor.outbox.dropped += destination.outbox.dropped

    def close(self, timeout: float) -> None:
        """Stops the ticker; lets the workers deliver what is queued for up to `timeout`."""
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)
        deadline = time.monotonic() + timeout
        for destination in self.destinations:
            destination.outbox.close()
        for destination in self.destinations:
            worker = destination.worker
            if worker.is_alive():
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.abandon()
                worker.join(timeout=5)
                log.warning(
                    "Shutdown: alert notifications not delivered in time are dropped.",
                    extra={
                        "destination": destination.name,
                        "queued": destination.outbox.events,
                        "last_error": worker.last_error,
                    },
                )
            try:
                destination.sink.close(1.0)
            except Exception:
                log.exception(
                    "Closing an alert destination failed.", extra={"sink": destination.name}
                )
