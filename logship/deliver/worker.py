"""SinkWorker: the thread that drains one sink's queue, sends batches, retries, dead-letters and acks."""

from __future__ import annotations

import logging
import random
import threading
import time

import orjson

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.process import name_native_thread
from logship.core.sink import Outcome, SendResult, Sink, SinkSettings
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.queue import SinkQueue

log = logging.getLogger(__name__)


class SinkWorker(threading.Thread):
    """Sends the batches of one queue to one sink, in order, until the queue is closed and empty.

    A batch's tickets are acknowledged only once every entry of it is delivered or dead-lettered.
    Transient failures are retried with exponential backoff and full jitter, for as long as it
    takes: the queue fills, the tailer stops reading, memory stays bounded. `abandon` ends the
    worker during shutdown without acknowledging what is still unsent.
    """

    def __init__(
        self,
        sink: Sink,
        settings: SinkSettings,
        queue: SinkQueue,
        acks: AckTracker,
        dead_letters: DeadLetterFile,
        metrics: Metrics,
    ) -> None:
        super().__init__(name=f"sink-{sink.name}", daemon=True)
        self.sink = sink
        self.settings = settings
        self.queue = queue
        self.acks = acks
        self.dead_letters = dead_letters
        self._abandon = threading.Event()
        self._failing_since: float | None = None
        self.last_error: str = ""
        self.last_delivery: float = 0.0
        m = metrics
        name = sink.name
        self._m_queue_events = m.queue_events.labels(name)
        self._m_queue_bytes = m.queue_bytes.labels(name)
        self._m_batches = {o: m.sink_batches.labels(name, o.value) for o in Outcome}
        self._m_delivered = m.sink_records.labels(name, "delivered")
        self._m_retried = m.sink_records.labels(name, "retried")
        self._m_dead = m.sink_records.labels(name, "dead_lettered")
        self._m_latency = m.sink_latency.labels(name)
        self._m_dlq_errors = m.dead_letter_errors.labels(name)

    @property
    def healthy(self) -> bool:
        """False while the sink keeps failing (readiness)."""
        return self._failing_since is None

    def abandon(self) -> None:
        """Stops retrying: the unsent batch is not acknowledged and will be re-read on restart."""
        self._abandon.set()

    def run(self) -> None:
        name_native_thread(f"logship-{self.sink.name}"[:15])
        batch_cfg = self.settings.batch
        linger = batch_cfg.linger
        while not self._abandon.is_set():
            batch = self.queue.take(batch_cfg.max_events, batch_cfg.max_bytes, linger)
            self._m_queue_events.set(self.queue.events)
            self._m_queue_bytes.set(self.queue.nbytes)
            if batch is None:
                return
            if not self._deliver(batch):
                return
            self.acks.ack(batch.tickets)
            self.queue.delivered(batch)

    def _deliver(self, batch: Batch) -> bool:
        """Sends until every entry is delivered or dead-lettered; False if abandoned first."""
        pending = batch
        attempt = 0
        while True:
            result = self._send(pending)
            self._m_batches[result.outcome].inc()
            rejected = list(result.rejected)
            if result.outcome is Outcome.REJECTED:
                rejected_ids = {i for i, _ in rejected}
                rejected += [
                    (i, result.reason) for i in range(len(pending)) if i not in rejected_ids
                ]
            if rejected and not self._dead_letter(pending, rejected):
                return False
            if result.outcome is not Outcome.RETRY or len(rejected) >= len(pending):
                self._m_delivered.inc(len(pending) - len(rejected))
                self._recovered()
                return True
            keep = list(result.retry_only)
            if not keep and rejected:
                rejected_ids = {i for i, _ in rejected}
                keep = [i for i in range(len(pending)) if i not in rejected_ids]
            if keep:
                self._m_delivered.inc(len(pending) - len(keep) - len(rejected))
                pending = pending.subset(keep)
            self._m_retried.inc(len(pending))
            self._failing(result.reason)
            if self._failing_since is not None and self.queue.spill_failed(
                batch, pending, time.monotonic() - self._failing_since
            ):
                return True  # durably spooled: the spool delivers it once the sink is back
            if self.queue.parked(batch):
                return False  # shutting down; the batch is safe in the spool
            delay = self._backoff(attempt, result.retry_after)
            attempt += 1
            if self._abandon.wait(delay):
                return False

    def _send(self, batch: Batch) -> SendResult:
        started = time.monotonic()
        try:
            return self.sink.send(batch)
        except orjson.JSONEncodeError:
            # A record JSON cannot express (nested deeper than orjson's 255 levels): resending
            # would fail forever, so dead-letter exactly those records and send the rest.
            return _unencodable(batch)
        except Exception as exc:  # a sink bug must not kill the worker and lose the batch
            log.exception("Sink raised; the batch will be retried.", extra={"sink": self.sink.name})
            return SendResult(Outcome.RETRY, reason=f"{type(exc).__name__}: {exc}")
        finally:
            self._m_latency.observe(time.monotonic() - started)

    def _dead_letter(self, batch: Batch, rejected: list[tuple[int, str]]) -> bool:
        attempt = 0
        records = batch.records()
        items = [(records[i], reason) for i, reason in rejected]
        while True:
            try:
                self.dead_letters.write(items)
            except OSError as exc:
                self._m_dlq_errors.inc()
                log.error(
                    "Dead-letter write failed; the batch is held until it succeeds.",
                    extra={
                        "sink": self.sink.name,
                        "path": str(self.dead_letters.path),
                        "error": exc.strerror,
                    },
                )
                if self._abandon.wait(self._backoff(attempt, None)):
                    return False
                attempt += 1
                continue
            self._m_dead.inc(len(items))
            log.warning(
                "Records rejected by the sink were dead-lettered.",
                extra={
                    "sink": self.sink.name,
                    "count": len(items),
                    "reason": items[0][1],
                    "path": str(self.dead_letters.path),
                },
            )
            return True

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.settings.retry
        ceiling = min(cfg.max_backoff, cfg.initial_backoff * (2 ** min(attempt, 30)))
        delay = random.uniform(cfg.initial_backoff, max(ceiling, cfg.initial_backoff))
        if retry_after is not None:
            delay = max(delay, min(retry_after, cfg.max_backoff))
        return delay

    def _failing(self, reason: str) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning(
                "Sink failing; retrying with backoff.",
                extra={"sink": self.sink.name, "reason": reason},
            )
        self.last_error = reason
        self.queue.failed(reason)

    def _recovered(self) -> None:
        self.last_delivery = time.time()
        if self._failing_since is not None:
            log.info(
                "Sink recovered.",
                extra={
                    "sink": self.sink.name,
                    "failing_for_s": round(time.monotonic() - self._failing_since, 1),
                },
            )
            self._failing_since = None


def _unencodable(batch: Batch) -> SendResult:
    """Rejects the records orjson cannot encode; the others are to be resent."""
    bad: list[tuple[int, str]] = []
    for i, entry in enumerate(batch.records()):
        try:
            orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError as exc:
            bad.append((i, f"cannot be encoded as JSON: {exc}"))
    if not bad:
        return SendResult(Outcome.RETRY, reason="JSON encoding failed for no record on its own")
    rejected = {i for i, _ in bad}
    keep = [i for i in range(len(batch)) if i not in rejected]
    return SendResult(Outcome.RETRY, reason=bad[0][1], retry_only=keep, rejected=bad)
