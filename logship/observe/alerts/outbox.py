"""AlertOutbox: the bounded queue of notifications in front of one destination.

Unlike a sink queue it never blocks the producer (the tailer thread): when it is full, the
oldest notification is dropped to make room and counted. A dead or slow webhook therefore
costs at most `queue.max_events` notifications of memory and never slows the log path; only
an overflow loses notifications, and `logship_alert_queue_dropped_total` says how many.
"""

from __future__ import annotations

from logship.deliver.queue import SinkQueue


class AlertOutbox(SinkQueue):
    """A SinkQueue (so a SinkWorker drains it) whose `put` drops the oldest instead of waiting;
    `dropped` counts the notifications lost to a full (or closed) outbox."""

    def __init__(self, max_events: int, max_bytes: int) -> None:
        super().__init__(max_events, max_bytes, drop_oldest=True)
