"""KafkaSink: produces each record as a JSON message; a batch counts as delivered only on Kafka's word.

How a send works (one batch at a time, the sink worker waits for the result):

1. Every record is encoded with orjson and handed to librdkafka (`produce`), which batches,
   compresses and sends in its own threads. A full local queue (`BufferError`) is never a drop:
   the sink serves delivery reports (`poll`), waits for room and produces the record again.
2. The sink waits until librdkafka holds no message of the batch any more (`flush` in slices),
   at most `message_timeout` plus one request timeout, the longest librdkafka can take to report.
3. Successful deliveries are not reported one by one (`delivery.report.only.error`): a record
   without an error report was delivered. Error reports are matched back to records by
   (topic, key, value) (`sinks.kafka.reports`) and classified (`sinks.kafka.classify`): permanent errors are returned as
   `rejected` (dead-lettered by the worker), the rest as `retry_only`.

The send returns only once every record has a report, or when waiting longer is pointless
(the sink is closing, or librdkafka failed to report in time): then every record not known to be
rejected is retried, since without a report nothing is known to be delivered.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaError, KafkaException, Producer

from logship.core.batch import Batch
from logship.core.progress import Progress, ProgressSource
from logship.core.record import LogEntry
from logship.core.sink import DELIVERED, Outcome, SendResult, SinkError
from sinks.kafka.classify import classify, explain, is_fatal
from sinks.kafka.config import KafkaSinkSettings
from sinks.kafka.encoder import encode_values
from sinks.kafka.producer import ProducerKeeper, exception_text
from sinks.kafka.reports import Report, Route, match_reports
from sinks.kafka.route import MessageRoute
from sinks.kafka.transaction import Transactions
from sinks.metrics import Counter, SinkMetrics

log = logging.getLogger(__name__)

_WAIT_SLICE = 0.25
"""Seconds per flush slice: how quickly a waiting send notices that the sink is closing."""
_ROOM_WAIT = 0.05
"""Seconds to serve delivery reports before producing again after a BufferError."""


class _StopAt(Exception):
    """Producing cannot go on in this send from record `index` (closing, deadline, fatal error)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class KafkaSink:
    """A Sink over a confluent-kafka Producer. `ready` says whether Kafka answers."""

    # Sink protocol members it has nothing to say for (logship.core.sink): librdkafka's own
    # timeouts bound a produce, and a send does not wait on the network.
    request_timeout = 0.0
    output_path: str | None = None

    def __init__(self, settings: KafkaSinkSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.route = MessageRoute(settings.topic, settings.default_topic, settings.key)
        self.producer = ProducerKeeper(self.name, settings.producer_config())
        self._report_wait = settings.delivery_wait
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        self.buffer_full_waits = 0
        """How many times a produce found librdkafka's queue full and waited (never a drop)."""
        self._m_buffer_full: Counter | None = None
        self.transactions = (
            Transactions(settings, self.producer) if settings.delivery == "exactly_once" else None
        )
        """With `delivery: exactly_once`: every send is one transaction (sinks.kafka.transaction)."""

    # --- state -----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once Kafka answered (metadata or a delivery) and until it stops answering."""
        return self.producer.ready

    @property
    def last_error(self) -> str:
        """What Kafka or librdkafka last reported as wrong (empty before any error)."""
        return self.producer.last_error

    def bind_metrics(self, metrics: SinkMetrics) -> None:
        """Counts BufferError waits in `logship_sink_buffer_full_waits{sink=...}`."""
        self._m_buffer_full = metrics.sink_buffer_full.labels(self.name)

    # --- Sink protocol ---------------------------------------------------------------------

    def healthcheck(self) -> None:
        """Creates the producer and asks Kafka for metadata; unreachable Kafka is logged, not raised.

        Raises SinkError only when the producer cannot be created from the settings (TLS files,
        SASL mechanisms): that will not fix itself.
        """
        try:
            producer = self.producer.get()
        except KafkaException as exc:
            raise SinkError(
                f"cannot create the Kafka producer: {exception_text(exc)}; check producer_options"
            ) from None
        servers = ",".join(self.settings.bootstrap_servers)
        topic = self.route.constant_topic
        try:
            metadata = producer.list_topics(topic=topic, timeout=self.settings.metadata_timeout)
        except KafkaException as exc:
            self.producer.ready = False
            self.producer.last_error = exception_text(exc)
            log.warning(
                "Kafka is unreachable; the agent keeps running and retrying.",
                extra={
                    "sink": self.name,
                    "bootstrap_servers": servers,
                    "error": self.last_error,
                    "timeout_s": self.settings.metadata_timeout,
                },
            )
            return
        self.producer.ready = True
        log.info(
            "Kafka is reachable.",
            extra={
                "sink": self.name,
                "bootstrap_servers": servers,
                "brokers": len(metadata.brokers),
            },
        )
        found = metadata.topics.get(topic) if topic is not None else None
        if found is not None and found.error is not None:
            log.error(
                "Kafka topic is not usable; its records will be retried or dead-lettered.",
                extra={"sink": self.name, "topic": topic, "error": explain(found.error)},
            )

    @property
    def takes_ndjson(self) -> bool:
        """True when records need no per-record topic or key: the tailer may hand over NDJSON."""
        return self.route.constant_topic is not None

    def send(self, batch: Batch) -> SendResult:
        """Produces the batch and waits for every delivery report (see the module docstring)."""
        with self._send_lock:
            if self._closing.is_set():
                return SendResult(Outcome.RETRY, reason="the Kafka sink is closing")
            txn = self.transactions
            if txn is not None and txn.blocked():
                return SendResult(Outcome.RETRY, reason=txn.fatal)
            try:
                producer = self.producer.get()
            except KafkaException as exc:
                self.producer.last_error = exception_text(exc)
                return SendResult(
                    Outcome.RETRY, reason=f"cannot create the Kafka producer: {self.last_error}"
                )
            deadline = time.monotonic() + self._report_wait
            if len(producer) > 0 and self._wait_for_reports(producer, deadline) != 0:
                return SendResult(
                    Outcome.RETRY, reason="messages of an earlier send are still in flight"
                )
            if txn is not None:
                return txn.send(
                    producer, batch, deadline, lambda part: self._send(producer, part, deadline)
                )
            return self._send(producer, batch, deadline)

    # --- exactly once (logship.core.progress.TransactionalSink) -----------------------------

    def bind_progress(self, source: ProgressSource) -> None:
        """Makes the producer transactional, with an id derived from the agent's identity."""
        assert self.transactions is not None, "bind_progress needs delivery: exactly_once"
        self.transactions.bind(source)

    def committed_progress(self) -> list[tuple[bytes, bytes]]:
        """Takes the transactional.id over (fencing an older agent), then reads the offsets topic."""
        from sinks.kafka.offsets_topic import ensure_compacted_topic, read_offsets

        txn = self.transactions
        assert txn is not None, "committed_progress needs delivery: exactly_once"
        assert txn.source is not None, "bind_progress first"
        timeout = self.settings.metadata_timeout
        config = self.settings.producer_config()
        topic = self.settings.offsets_topic
        try:
            with self._send_lock:
                txn.initialise(self.producer.get(), timeout)
            ensure_compacted_topic(config, topic, self.name, timeout)
            return read_offsets(config, topic, txn.source.key_prefix, self.name, timeout)
        except (KafkaException, TimeoutError) as exc:
            text = exception_text(exc) if isinstance(exc, KafkaException) else str(exc)
            raise SinkError(
                f"exactly_once cannot read its checkpoints from the offsets topic {topic!r}: "
                f"{text}; the agent needs Kafka reachable at start-up in this mode"
            ) from None

    def last_committed(self) -> Progress | None:
        """The progress of the last committed transaction (the local registry's ceiling)."""
        return self.transactions.last_committed if self.transactions is not None else None

    @property
    def fatal(self) -> str:
        """Set once fenced by another agent with the same transactional.id."""
        return self.transactions.blocked() if self.transactions is not None else ""

    def close(self, timeout: float) -> None:
        """Waits up to `timeout` (at most `shutdown_timeout`) for outstanding deliveries, then stops.

        What is not delivered by then was never acknowledged, so it is not checkpointed: it is
        read and sent again on the next start.
        """
        self._closing.set()
        timeout = max(0.0, min(timeout, self.settings.shutdown_timeout))
        started = time.monotonic()
        # A send notices `_closing` within a wait slice and returns.
        if not self._send_lock.acquire(timeout=max(timeout, 2 * _WAIT_SLICE)):
            log.warning(
                "Kafka sink still sending at close; not waiting.", extra={"sink": self.name}
            )
            return
        try:
            producer = self.producer.take()
            if producer is None:
                return
            if self.transactions is not None:
                self.transactions.end(producer, timeout)
            left = self.producer.serve(
                producer.flush, max(0.0, timeout - (time.monotonic() - started))
            )
            if left != 0:
                log.warning(
                    "Kafka sink closed with undelivered messages; they were not acknowledged "
                    "and will be sent again after a restart.",
                    extra={
                        "sink": self.name,
                        "messages": len(producer),
                        "last_error": self.last_error,
                    },
                )
                self.producer.purge(producer, in_flight=True)
            del producer
        finally:
            self._send_lock.release()

    # --- one send --------------------------------------------------------------------------

    def _send(self, producer: Producer, batch: Batch, deadline: float) -> SendResult:
        entries = batch.entries
        values = encode_values(batch)
        keeper = self.producer
        reports: list[Report] = []
        keeper.reports = reports
        rejected: list[tuple[int, str]] = []
        retry: list[int] = []
        routes: list[Route | None] | None = None
        stopped_at: int | None = None
        reason = ""
        try:
            if self.route.constant_topic is not None:
                self._produce_constant(producer, values, deadline, rejected, retry)
            else:
                routes = []
                self._produce_routed(producer, entries, values, routes, deadline, rejected, retry)
        except _StopAt as stop:
            stopped_at, reason = stop.index, stop.reason
        left = self._wait_for_reports(producer, deadline)
        keeper.reports = None

        if stopped_at is not None:
            retry.extend(range(stopped_at, len(values)))
        if left != 0:
            # Without a report nothing is known to be delivered: resend all but the rejected.
            if left is None and keeper.fatal is not None:
                reason = explain(keeper.fatal)
            elif self._closing.is_set():
                reason = "the Kafka sink is closing"
            else:
                reason = f"no delivery report within {self._report_wait:.0f}s"
                keeper.ready = False
                producer.purge(in_queue=True, in_flight=False, blocking=False)
                keeper.serve(producer.poll, 0)
            done = {i for i, _ in rejected}
            return self._result(reason, [i for i in range(len(values)) if i not in done], rejected)
        if reports:
            match = match_reports(
                reports, values, routes, self.route.constant_topic, rejected, retry
            )
            if match.fatal is not None:
                keeper.fatal = match.fatal
            if match.timed_out:
                keeper.ready = False
            if match.unmatched:
                log.error(
                    "Kafka delivery reports did not match the batch; resending it.",
                    extra={"sink": self.name, "unmatched": match.unmatched},
                )
            reason = reason or match.reason
        if keeper.fatal is not None:
            reason = reason or explain(keeper.fatal)
        if len(retry) < len(values) - len(rejected) or not values:
            keeper.ready = True  # something got through: Kafka answers
        return self._result(reason, retry, rejected)

    def _result(self, reason: str, retry: list[int], rejected: list[tuple[int, str]]) -> SendResult:
        if retry:
            self.producer.last_error = reason
            return SendResult(
                Outcome.RETRY, reason=reason, retry_only=sorted(set(retry)), rejected=rejected
            )
        if rejected:
            return SendResult(Outcome.DELIVERED, rejected=rejected)
        return DELIVERED

    def _produce_constant(
        self,
        producer: Producer,
        values: list[bytes],
        deadline: float,
        rejected: list[tuple[int, str]],
        retry: list[int],
    ) -> None:
        topic = self.route.constant_topic
        assert topic is not None
        produce = producer.produce
        for index, value in enumerate(values):
            try:
                produce(topic, value)
            except (BufferError, KafkaException) as exc:
                self._produce_hard(
                    producer, exc, index, topic, value, None, deadline, rejected, retry
                )

    def _produce_routed(
        self,
        producer: Producer,
        entries: list[LogEntry],
        values: list[bytes],
        routes: list[Route | None],
        deadline: float,
        rejected: list[tuple[int, str]],
        retry: list[int],
    ) -> None:
        produce = producer.produce
        route_topic = self.route.topic
        route_key = self.route.key
        for index, entry in enumerate(entries):
            topic, problem = route_topic(entry)
            if problem is not None:
                routes.append(None)
                rejected.append((index, problem))
                continue
            key = route_key(entry)
            routes.append((topic, key))
            try:
                produce(topic, values[index], key)
            except (BufferError, KafkaException) as exc:
                self._produce_hard(
                    producer, exc, index, topic, values[index], key, deadline, rejected, retry
                )

    def _produce_hard(
        self,
        producer: Producer,
        exc: BufferError | KafkaException,
        index: int,
        topic: str,
        value: bytes,
        key: bytes | None,
        deadline: float,
        rejected: list[tuple[int, str]],
        retry: list[int],
    ) -> None:
        """The slow path of one produce: waits out a full queue, classifies a refusal.

        Raises _StopAt when this and the following records cannot be produced in this send.
        """
        while True:
            if isinstance(exc, BufferError):
                # librdkafka's queue is full: serve reports until there is room. Never drop.
                self.buffer_full_waits += 1
                if self._m_buffer_full is not None:
                    self._m_buffer_full.inc()
                if self._closing.is_set():
                    raise _StopAt(index, "the Kafka sink is closing")
                if time.monotonic() >= deadline:
                    raise _StopAt(index, "librdkafka's queue stayed full")
                if self.producer.serve(producer.poll, _ROOM_WAIT) is None:
                    raise _StopAt(index, self.last_error)
            else:
                error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if error is None:
                    retry.append(index)
                    return
                if is_fatal(error):
                    self.producer.fatal = error
                    raise _StopAt(index, explain(error))
                if classify(error) is Outcome.REJECTED:
                    rejected.append((index, explain(error)))
                    return
                retry.append(index)
                return
            try:
                producer.produce(topic, value, key)
                return
            except (BufferError, KafkaException) as again:
                exc = again

    def _wait_for_reports(self, producer: Producer, deadline: float) -> int | None:
        """Serves reports until librdkafka holds no message, the deadline, or closing.

        Returns how many messages librdkafka still holds, or None after a fatal client error.
        """
        while True:
            left = self.producer.serve(
                producer.flush, max(0.0, min(_WAIT_SLICE, deadline - time.monotonic()))
            )
            if left is None or left == 0:
                return left
            if self._closing.is_set() or time.monotonic() >= deadline:
                return left
