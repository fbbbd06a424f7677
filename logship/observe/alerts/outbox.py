"""AlertOutbox: the bounded queue of notifications in front of one destination.

Unlike a sink queue it never blocks the producer (the tailer thread): when it is full, the
oldest notification is dropped to make room and counted. A dead or slow webhook therefore
costs at most `queue.max_events` notifications of memory and never slows the log path; only
an overflow loses notifications, and `logship_alert_queue_dropped_total` says how many.
"""

from __future__ import annotations

from logship.core.batch import Batch
from logship.deliver.queue import SinkQueue


class AlertOutbox(SinkQueue):
    """A SinkQueue (so a SinkWorker drains it) whose `put` drops the oldest instead of waiting."""

    def __init__(self, max_events: int, max_bytes: int) -> None:
        super().__init__(max_events, max_bytes)
        self.dropped = 0
        """Notifications dropped because the outbox was full (or closed)."""

    def put(self, batch: Batch) -> bool:
        """Queues at once, dropping the oldest queued notifications while it does not fit."""
        n = len(batch)
        with self._cond:
            if self._closed:
                self.dropped += n
                return False
            while self._items and (
                self._events + n > self.max_events or self._bytes + batch.nbytes > self.max_bytes
            ):
                old = self._items.popleft()
                self._events -= len(old)
                self._bytes -= old.nbytes
                self.dropped += len(old)
            self._items.append(batch)
            self._events += n
            self._bytes += batch.nbytes
            self._cond.notify_all()
            return True

    def drain(self) -> list[Batch]:
        """Takes every queued notification out (a hand-over to a new outbox)."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self._events = 0
            self._bytes = 0
            self._cond.notify_all()
            return items
