"""Exactly-once into Kafka: each batch in one transaction with the checkpoints it advances.

One send = one transaction: `begin`, produce the batch (the sink's usual path, every delivery
report awaited), then the progress records (opaque checkpoint messages from the pipeline) to the
offsets topic, then `commit`. A send is acknowledged only once its transaction is committed, so
the agent's own acknowledgement flow is unchanged and a failed send simply aborts and retries:
`read_committed` consumers never see an aborted batch, and the offsets topic never holds a
checkpoint whose records are not committed.

The producer's `transactional.id` is `logship-<scope>-<sink name>` (scope: the host name, and the
worker for one of several), stable across restarts: a restarted agent takes it over, which
aborts whatever transaction the dead one left open. A second agent with the same identity does
the same to a live one, which is then *fenced*: every later call fails, and the sink reports
`fatal` so that the agent stops rather than compete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Producer

from logship.core.batch import Batch
from logship.core.progress import Progress, ProgressSource
from logship.core.sink import Outcome, SendResult
from sinks.kafka.classify import explain
from sinks.kafka.config import KafkaSinkSettings
from sinks.kafka.producer import ProducerKeeper, kafka_error

log = logging.getLogger("sinks.kafka.sink")

FENCED_CODES = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)
"""Errors that mean another producer took the transactional.id over."""

_COMMIT_SLICE = 5.0
"""Seconds per commit / abort attempt; retriable failures are retried until the deadline."""


def transactional_id(scope: str, sink_name: str) -> str:
    """The producer's transactional.id: stable for one agent identity, worker and sink."""
    return f"logship-{scope}-{sink_name}"


class Transactions:
    """The transactional side of one Kafka sink: initialisation, one transaction per send, fencing."""

    def __init__(self, settings: KafkaSinkSettings, keeper: ProducerKeeper) -> None:
        self.settings = settings
        self.keeper = keeper
        self.source: ProgressSource | None = None
        self.transactional_id = ""
        self.fatal = ""
        """Set once fenced: the message the agent stops with."""
        self._initialised: Producer | None = None
        self._open = False
        """A transaction is open on the current producer."""
        self._carry: Batch | None = None
        """Records produced into the open transaction that no committed progress covers yet."""
        self.last_committed: Progress | None = None
        """The progress of the last committed transaction: what the local registry may hold."""

    def bind(self, source: ProgressSource) -> None:
        """Takes the agent's identity; producers made from now on are transactional."""
        self.source = source
        self.transactional_id = transactional_id(source.scope, self.settings.name)
        self.keeper.config["transactional.id"] = self.transactional_id
        self.keeper.discard("the transactional identity was set")

    def blocked(self) -> str:
        """Why no send may happen ("" when one may): fenced, seen here or by the keeper."""
        error = self.keeper.fatal
        if error is not None and error.code() in FENCED_CODES and not self.fatal:
            self._note(KafkaException(error))
        return self.fatal

    def initialise(self, producer: Producer, timeout: float) -> None:
        """`init_transactions` once per producer: fences an older holder of the id and aborts
        its open transaction. Raises KafkaException."""
        if self._initialised is producer:
            return
        self._open = False  # a new producer: nothing is open on it
        try:
            producer.init_transactions(timeout)
        except KafkaException as exc:
            self._note(exc)
            raise
        self._initialised = producer
        log.info(
            "Kafka transactions initialised.",
            extra={"sink": self.settings.name, "transactional_id": self.transactional_id},
        )

    def send(
        self,
        producer: Producer,
        batch: Batch,
        deadline: float,
        produce: Callable[[Batch], SendResult],
    ) -> SendResult:
        """Sends `batch` with `produce` (the sink's own send) in transactions that also hold the
        progress the batch's tickets make.

        The records the tickets cover are committed with that progress. Records past them (the
        head of a chunk split across sends, whose tickets come with the next batch) are
        produced into a transaction left open, and committed with the next batch's progress;
        the sink keeps them (`_carry`) to produce them again if that transaction aborts.
        Records rejected for good are left out of a second attempt at once, so that the worker
        gets them as `rejected` of a delivered batch and never resends a ticketless subset.
        """
        if self.fatal:
            return SendResult(Outcome.RETRY, reason=self.fatal)
        covered = len(batch) - batch.untracked
        head, tail = (batch, None) if not batch.untracked else batch.split(covered)
        rejected: list[tuple[int, str]] = []
        if covered or batch.tickets:
            keep = list(range(covered))
            while True:
                part = head if len(keep) == covered else head.subset(keep)
                result = self._commit_part(producer, part, batch, deadline, produce)
                if _clean(result):
                    break
                newly = [(keep[i], why) for i, why in result.rejected]
                if result.outcome is Outcome.RETRY or not newly:
                    # Transient: the whole batch again, tickets and all (rejects are found again).
                    return SendResult(
                        Outcome.RETRY, reason=result.reason, retry_after=result.retry_after
                    )
                rejected += newly
                dropped = {i for i, _ in newly}
                keep = [i for i in keep if i not in dropped]
        if tail is not None:
            result = self._open_part(producer, tail, deadline, produce)
            if not _clean(result):
                return SendResult(
                    Outcome.RETRY,
                    reason=result.reason or "the Kafka transaction was aborted",
                    retry_only=list(range(covered, len(batch))),
                    rejected=rejected,
                    retry_after=result.retry_after,
                )
        return SendResult(Outcome.DELIVERED, rejected=rejected)

    def _begin(
        self, producer: Producer, deadline: float, produce: Callable[[Batch], SendResult]
    ) -> SendResult | None:
        """Opens a transaction unless one is open (producing the carried records again into a
        new one); a SendResult when that failed."""
        if self._open:
            return None
        try:
            self.initialise(producer, max(1.0, deadline - time.monotonic()))
            producer.begin_transaction()
        except KafkaException as exc:
            return self._failed(producer, exc, "cannot begin a Kafka transaction")
        self._open = True
        if self._carry is not None:
            result = produce(self._carry)
            if not _clean(result):
                self._abort(producer, deadline)
                return SendResult(Outcome.RETRY, reason=result.reason or "cannot produce")
        return None

    def _produce_open(
        self,
        producer: Producer,
        part: Batch,
        deadline: float,
        produce: Callable[[Batch], SendResult],
    ) -> SendResult:
        """Produces `part` into the open transaction (begun first if need be); a failure aborts
        the transaction and is returned (never clean)."""
        failed = self._begin(producer, deadline, produce)
        if failed is not None:
            return failed
        result = produce(part) if len(part) else SendResult(Outcome.DELIVERED)
        if not _clean(result):
            self._abort(producer, deadline)
        return result

    def _commit_part(
        self,
        producer: Producer,
        part: Batch,
        batch: Batch,
        deadline: float,
        produce: Callable[[Batch], SendResult],
    ) -> SendResult:
        """Produces `part` and the progress of `batch`, and commits them (with any carry)."""
        result = self._produce_open(producer, part, deadline, produce)
        if not _clean(result):
            return result
        assert self.source is not None
        progress = self.source.after(batch)
        try:
            for key, value in progress.records:
                producer.produce(self.settings.offsets_topic, value, key)
            self._commit(producer, deadline)
        except (KafkaException, BufferError) as exc:
            if isinstance(exc, BufferError):
                exc = KafkaException(KafkaError(KafkaError._QUEUE_FULL))
            failed = self._failed(producer, exc, "cannot commit the Kafka transaction")
            self._abort(producer, deadline)
            return failed
        self._open = False
        self._carry = None
        self.last_committed = progress
        self.source.committed(progress)
        return result

    def _open_part(
        self,
        producer: Producer,
        part: Batch,
        deadline: float,
        produce: Callable[[Batch], SendResult],
    ) -> SendResult:
        """Produces records no ticket covers yet into the open transaction, and carries them."""
        result = self._produce_open(producer, part, deadline, produce)
        if not _clean(result):
            return result
        self._carry = part if self._carry is None else Batch.merge([self._carry, part])
        return result

    def _commit(self, producer: Producer, deadline: float) -> None:
        _until_answered(producer.commit_transaction, deadline)

    def _abort(self, producer: Producer, deadline: float) -> None:
        """Aborts the open transaction (the carry stays, to be produced again)."""
        self._open = False
        if self.fatal:
            return
        try:
            _until_answered(producer.abort_transaction, deadline)
        except KafkaException as exc:
            self._failed(producer, exc, "cannot abort a Kafka transaction")
            if self.keeper.fatal is None and not self.fatal:
                # The producer's transaction state is stuck (an abort that timed out, or after
                # a commit whose outcome stayed unknown): a new producer's init_transactions
                # makes Kafka finish the old transaction, and the batch is sent again.
                error = kafka_error(exc)
                self.keeper.fatal = error if error is not None else KafkaError(KafkaError._STATE)
                self._initialised = None

    def end(self, producer: Producer, timeout: float) -> None:
        """At close: aborts a transaction left open (its lines were never acknowledged)."""
        if self._open and self._initialised is producer:
            self._abort(producer, time.monotonic() + timeout)

    def _failed(self, producer: Producer, exc: KafkaException, what: str) -> SendResult:
        """A transactional call failed: fenced, fatal (new producer next time) or transient."""
        self._note(exc)
        error = kafka_error(exc)
        if error is not None and error.fatal() and not self.fatal:
            self.keeper.fatal = error  # the keeper makes a new producer before the next send
            self._initialised = None
        return SendResult(Outcome.RETRY, reason=self.fatal or self._describe(exc, what))

    def _note(self, exc: KafkaException) -> None:
        error = kafka_error(exc)
        if error is None or error.code() not in FENCED_CODES or self.fatal:
            return
        self.fatal = (
            f"Kafka sink {self.settings.name!r} was fenced: another agent took over the "
            f"transactional.id {self.transactional_id!r} (the same agent.host_name and worker). "
            f"This agent stops; give each agent its own agent.host_name."
        )
        log.error(self.fatal, extra={"sink": self.settings.name, "error": explain(error)})

    @staticmethod
    def _describe(exc: BaseException, what: str) -> str:
        error = kafka_error(exc)
        return f"{what}: {explain(error) if error is not None else exc}"


def _clean(result: SendResult) -> bool:
    """Every record delivered, none rejected."""
    return result.outcome is Outcome.DELIVERED and not result.rejected


def _until_answered(end_transaction: Callable[[float], None], deadline: float) -> None:
    """Commits or aborts, again while Kafka answers with a retriable error before `deadline`:
    the outcome is not known yet, and asking again is the way to learn it."""
    while True:
        try:
            end_transaction(min(_COMMIT_SLICE, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            error = kafka_error(exc)
            if error is None or not error.retriable() or time.monotonic() >= deadline:
                raise
