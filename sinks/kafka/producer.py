"""The sink's librdkafka producer: created on demand, replaced after a fatal error, served safely.

Callbacks (error reports, client errors) run inside `poll` / `flush`, on the calling thread:
the sink's send thread, or `close`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from sinks.kafka.classify import explain
from sinks.kafka.client_log import ClientLog
from sinks.kafka.reports import Report

log = logging.getLogger("sinks.kafka.sink")


class ProducerKeeper:
    """Owns the Producer of one sink, what Kafka last said (`ready`, `last_error`), and fatal errors.

    `reports` collects the error reports of the send in progress (None between sends: reports
    of an abandoned send are not wanted).
    """

    def __init__(self, sink_name: str, config: dict[str, Any]) -> None:
        self.sink_name = sink_name
        self.config = config
        """librdkafka settings (`KafkaSinkSettings.producer_config`) for each new producer."""
        self.current: Producer | None = None
        self.fatal: KafkaError | None = None
        """A fatal client error: the producer is replaced before the next use."""
        self.reports: list[Report] | None = None
        self.ready = False
        self.last_error = ""
        self.client_log = ClientLog(sink_name)

    def get(self) -> Producer:
        """The producer, a new one when there is none or the last one failed fatally.

        Raises KafkaException when the settings cannot make a producer (TLS files, SASL).
        """
        if self.fatal is not None:
            self.discard(f"fatal producer error: {explain(self.fatal)}")
        if self.current is None:
            self.current = Producer(
                {
                    **self.config,
                    "on_delivery": self._on_error_report,
                    "error_cb": self._on_client_error,
                    "logger": self.client_log,
                }
            )
        return self.current

    def take(self) -> Producer | None:
        """The producer, which the keeper forgets (closing): the next `get` makes a new one."""
        producer, self.current = self.current, None
        self.reports = None
        return producer

    def discard(self, why: str) -> None:
        """Drops a producer that cannot go on; its undelivered records are retried by the agent."""
        producer, self.current = self.current, None
        self.fatal = None
        if producer is None:
            return
        log.error(
            "Kafka producer is unusable; creating a new one.",
            extra={"sink": self.sink_name, "reason": why},
        )
        self.reports = None
        self.purge(producer, in_flight=True)
        del producer

    def purge(self, producer: Producer, *, in_flight: bool) -> None:
        """Drops the messages librdkafka still queues (and with `in_flight` those sent, unanswered)."""
        try:
            producer.purge(in_queue=True, in_flight=in_flight, blocking=False)
        except KafkaException:
            pass  # a fatal producer may refuse; it is destroyed either way
        self.serve(producer.poll, 0)

    def serve(self, call: Callable[[float], int], timeout: float) -> int | None:
        """Runs `producer.flush` or `poll`: the number of messages librdkafka still holds.

        confluent-kafka raises a fatal client error (the idempotent producer lost its state)
        from poll / flush instead of calling error_cb: it is recorded here, the producer is
        replaced at the next send, and None says that deliveries are unknown.
        """
        try:
            return int(call(timeout))
        except (KafkaException, SystemError) as exc:
            error = kafka_error(exc)
            if error is None:
                raise
            self.fatal = error
            self.last_error = explain(error)
            self.client_log.error(error)
            return None

    def _on_error_report(self, error: KafkaError | None, message: Message) -> None:
        reports = self.reports
        if error is not None and reports is not None:
            reports.append((error, message))

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:  # one lost connection is routine
            self.ready = False
        if error.fatal():
            self.fatal = error
        self.last_error = explain(error)
        self.client_log.error(error)


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The KafkaError inside an exception or its causes (a SystemError can wrap one)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KafkaException) and seen.args and isinstance(seen.args[0], KafkaError):
            return seen.args[0]
        seen = seen.__cause__ or seen.__context__
    return None


def exception_text(exc: KafkaException) -> str:
    """The reason a KafkaException gives, in words."""
    error = exc.args[0] if exc.args else None
    return explain(error) if isinstance(error, KafkaError) else str(exc)
