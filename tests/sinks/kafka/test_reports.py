"""Error delivery reports are matched back to the records they are about."""

from __future__ import annotations

from confluent_kafka import KafkaError, Message

from sinks.kafka.reports import Report, Route, match_reports


def report(
    code: int, topic: str, value: bytes, key: bytes | None = None, *, fatal: bool = False
) -> Report:
    return (KafkaError(code, fatal=fatal), Message(topic=topic, key=key, value=value))


def test_reports_match_records_by_value_and_split_into_retry_and_rejected() -> None:
    values = [b"a", b"b", b"c", b"d"]
    rejected: list[tuple[int, str]] = []
    retry: list[int] = []
    match = match_reports(
        [
            report(KafkaError.MSG_SIZE_TOO_LARGE, "logs", b"c"),
            report(KafkaError._MSG_TIMED_OUT, "logs", b"b"),
        ],
        values,
        None,
        "logs",
        rejected,
        retry,
    )
    assert [i for i, _ in rejected] == [2]
    assert rejected[0][1].startswith("MSG_SIZE_TOO_LARGE")
    assert retry == [1]
    assert match.timed_out
    assert match.fatal is None
    assert match.unmatched == 0
    assert match.reason.startswith("1 of 4 records failed: _MSG_TIMED_OUT")


def test_equal_values_are_matched_in_produce_order_and_routes_include_the_key() -> None:
    values = [b"same", b"same", b"same"]
    routes: list[Route | None] = [("a", b"k1"), None, ("a", b"k2")]
    rejected: list[tuple[int, str]] = []
    retry: list[int] = []
    match_reports(
        [report(KafkaError._TRANSPORT, "a", b"same", b"k2")], values, routes, None, rejected, retry
    )
    assert retry == [2]
    assert rejected == []


def test_a_fatal_report_is_retried_and_asks_for_a_new_producer() -> None:
    retry: list[int] = []
    match = match_reports(
        [report(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "logs", b"x", fatal=True)],
        [b"x"],
        None,
        "logs",
        [],
        retry,
    )
    assert retry == [0]
    assert match.fatal is not None


def test_an_unmatched_report_resends_every_record_not_rejected() -> None:
    rejected: list[tuple[int, str]] = []
    retry: list[int] = []
    match = match_reports(
        [
            report(KafkaError.MSG_SIZE_TOO_LARGE, "logs", b"a"),
            report(KafkaError._TRANSPORT, "other", b"zzz"),
        ],
        [b"a", b"b", b"c"],
        None,
        "logs",
        rejected,
        retry,
    )
    assert match.unmatched == 1
    assert retry == [1, 2]
    assert match.reason == "2 of 3 records failed: unmatched delivery reports"
