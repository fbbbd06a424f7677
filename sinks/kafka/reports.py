"""Matching librdkafka's error reports back to the records of a send.

Successful deliveries are not reported (`delivery.report.only.error`): a record without an
error report was delivered. An error report names the message (topic, key, value), not the
record's index, so reports are matched to records by that triple, in produce order.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message

from logship.core.sink import Outcome
from sinks.kafka.classify import classify, explain, is_fatal

Report = tuple[KafkaError, Message]
"""An error delivery report: the error and the message it is about."""

Route = tuple[str, bytes | None]
"""The (topic, key) a record was produced with."""


@dataclass(slots=True)
class ReportMatch:
    """What the error reports of one send said, beyond the records they put in retry / rejected."""

    reason: str = ""
    """Why records are retried (empty when none are)."""
    fatal: KafkaError | None = None
    """A fatal error one of the reports carried: the producer must be rebuilt."""
    timed_out: bool = False
    """A record timed out in librdkafka: Kafka is not answering."""
    unmatched: int = 0
    """Reports that matched no record (cannot happen by construction; everything is resent)."""


def match_reports(
    reports: list[Report],
    values: list[bytes],
    routes: list[Route | None] | None,
    constant_topic: str | None,
    rejected: list[tuple[int, str]],
    retry: list[int],
) -> ReportMatch:
    """Matches error reports to records by (topic, key, value); fills `rejected` / `retry`.

    `routes` holds each produced record's (topic, key), None for a record not produced (its
    route was refused); without `routes` every record went to `constant_topic` without a key.
    """
    by_message: defaultdict[tuple[str, bytes | None, bytes], deque[int]] = defaultdict(deque)
    if routes is None:
        for index, value in enumerate(values):
            by_message[(constant_topic or "", None, value)].append(index)
    else:
        for index, route in enumerate(routes):  # shorter than values if producing stopped
            if route is not None:
                by_message[(route[0], route[1], values[index])].append(index)
    match = ReportMatch()
    reason = ""
    for error, message in reports:
        topic = message.topic() or ""
        found = by_message.get((topic, message.key(), message.value() or b""))
        if not found:
            match.unmatched += 1
            continue
        index = found.popleft()
        if classify(error) is Outcome.REJECTED:
            rejected.append((index, explain(error)))
            continue
        if is_fatal(error):
            match.fatal = error
        if error.code() == KafkaError._MSG_TIMED_OUT:
            match.timed_out = True
        retry.append(index)
        reason = reason or explain(error)
    if match.unmatched:
        done = {i for i, _ in rejected}
        retry[:] = [i for i in range(len(values)) if i not in done]
        reason = reason or "unmatched delivery reports"
    if retry:
        reason = f"{len(retry)} of {len(values)} records failed: {reason}"
    match.reason = reason
    return match
