"""What an answer of the endpoint means for the batch: deliver, retry, or reject (`classify`)."""

from __future__ import annotations

from dataclasses import dataclass

from logship.core.sink import DELIVERED, Outcome, SendResult
from sinks.transport.answer import Answer

REJECTING = frozenset({400, 413, 415, 422})
"""Statuses that refuse the content itself: resending the same records cannot succeed."""


def classify(answer: Answer, where: str) -> SendResult:
    """2xx delivers. 400/413/415/422 reject the batch (dead-lettered with the reason). Anything
    else is retried with backoff: 429, 408 and 5xx are transient, 3xx, 401, 403, 404 and other
    4xx are configuration problems (URL, credentials) that an operator fixes without the
    records being lost meanwhile."""
    status = answer.status
    if 200 <= status < 300:
        return DELIVERED
    reason = f"HTTP {status} from {where}"
    if answer.body:
        reason += f": {' '.join(answer.body.split())}"
    if 300 <= status < 400:
        target = f" to {answer.location}" if answer.location else ""
        return SendResult(
            Outcome.RETRY, reason=f"{reason} (redirected{target}: set `url` to the endpoint)"
        )
    if status in REJECTING:
        return SendResult(Outcome.REJECTED, reason=reason)
    return SendResult(Outcome.RETRY, reason=reason, retry_after=answer.retry_after)


@dataclass(frozen=True, slots=True)
class WebhookRetryLogic:
    """The `RetryLogic` of the http sink: `classify` for answers, retry when none came."""

    where: str
    """The endpoint (scheme://host:port) named in reasons."""

    def answered(self, answer: Answer) -> SendResult:
        """The verdict on the endpoint's answer."""
        return classify(answer, self.where)

    def unanswered(self, error: str) -> SendResult:
        """No answer: retried with backoff."""
        return SendResult(Outcome.RETRY, reason=f"{self.where}: {error}")
