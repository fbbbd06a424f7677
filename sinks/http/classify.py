"""What an answer of the endpoint means for the batch: deliver, retry, or reject (one function)."""

from __future__ import annotations

import email.utils
import time

from logship.core.sink import DELIVERED, Outcome, SendResult
from sinks.http.client import Answer

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
    return SendResult(
        Outcome.RETRY, reason=reason, retry_after=retry_after_seconds(answer.retry_after)
    )


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
