"""librdkafka errors: which are about the record (dead-letter) and which are retried."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from logship.core.sink import Outcome
from sinks.kafka.classify import classify, explain, is_fatal


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.INVALID_RECORD,
    ],
)
def test_errors_about_the_record_reject_it(code: int) -> None:
    assert classify(KafkaError(code)) is Outcome.REJECTED


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError.UNKNOWN,  # unknown means unknown: never given up on
    ],
)
def test_transient_and_unknown_errors_are_retried(code: int) -> None:
    assert classify(KafkaError(code)) is Outcome.RETRY


def test_a_fatal_error_asks_for_a_new_producer() -> None:
    fatal = KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, fatal=True)
    assert is_fatal(fatal)
    assert classify(fatal) is Outcome.RETRY  # resent once the producer is rebuilt
    assert is_fatal(KafkaError(KafkaError._FATAL))  # produce() on a dead producer
    assert not is_fatal(KafkaError(KafkaError._MSG_TIMED_OUT))


def test_a_fatal_error_is_never_a_rejection_even_with_a_permanent_code() -> None:
    fatal = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, fatal=True)
    assert classify(fatal) is Outcome.RETRY


def test_the_reason_says_what_happened_in_words() -> None:
    reason = explain(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    assert reason.startswith("MSG_SIZE_TOO_LARGE: the record is larger than message.max.bytes")
