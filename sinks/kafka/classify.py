"""Classification of librdkafka errors: retry the record, reject it for good, or rebuild the producer.

librdkafka already retries transient errors (leader moved, broker down, timeouts) inside
`message.timeout.ms`; an error that reaches a delivery report is either permanent for that
record or the timeout itself. Unknown errors are retried: a record is only ever given up on
(dead-lettered) for an error known to be about that record. The outcomes are the shared
contract's (`Outcome.RETRY`, `Outcome.REJECTED`); a fatal error is also retried, after the
producer is rebuilt (`is_fatal`).
"""

from __future__ import annotations

from confluent_kafka import KafkaError

from logship.core.sink import Outcome

PERMANENT_CODES: dict[int, str] = {
    KafkaError.MSG_SIZE_TOO_LARGE: "the record is larger than message.max.bytes",
    KafkaError.RECORD_LIST_TOO_LARGE: "the record is larger than the broker accepts",
    KafkaError.INVALID_MSG_SIZE: "the broker refused the record's size",
    KafkaError.INVALID_MSG: "the broker found the record corrupt",
    KafkaError.INVALID_RECORD: "the broker refused the record",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "not authorized to write to the topic (ACLs)",
    KafkaError.TOPIC_EXCEPTION: "invalid topic name",
    KafkaError.UNKNOWN_TOPIC_OR_PART: "the topic does not exist and is not auto-created",
    KafkaError._UNKNOWN_TOPIC: "the topic does not exist and is not auto-created",
    KafkaError._UNKNOWN_PARTITION: "the partition does not exist",
    KafkaError.POLICY_VIOLATION: "the record violates a broker policy",
    KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT: "the topic's message format cannot hold the record",
    KafkaError._INVALID_ARG: "librdkafka refused the record",
}
"""Errors that are about the record itself: resending it would fail the same way."""


def is_fatal(error: KafkaError) -> bool:
    """True when the producer instance is unusable (idempotence state lost): rebuild it, then resend."""
    return bool(error.fatal()) or error.code() == KafkaError._FATAL


def classify(error: KafkaError) -> Outcome:
    """What becomes of a record that failed with `error` (from `produce()` or a delivery report).

    `Outcome.REJECTED`: permanent for this record, dead-lettered and acknowledged.
    `Outcome.RETRY`: resent after a backoff; fatal errors too (once the producer is rebuilt).
    """
    if not is_fatal(error) and error.code() in PERMANENT_CODES:
        return Outcome.REJECTED
    return Outcome.RETRY


def explain(error: KafkaError) -> str:
    """A reason for logs and dead letters: `MSG_SIZE_TOO_LARGE: the record is larger ... (Broker: ...)`."""
    hint = PERMANENT_CODES.get(error.code())
    text = error.str()
    return f"{error.name()}: {hint} ({text})" if hint else f"{error.name()}: {text}"
