"""What a `_bulk` response means for the batch: delivered, retry (which items), rejected (why).

All of the decision lives in `classify_bulk_response`; the sink only carries it out.
`BulkRetryLogic` is the same decision behind the shared HTTP layer's `RetryLogic` shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from logship.core.sink import DELIVERED, Outcome, SendResult
from sinks.transport.answer import Answer

_CLEAN = re.compile(rb'^\s*\{\s*"errors"\s*:\s*false\b')

# Item errors that say "not now" about the cluster, not "never" about the document.
_TRANSIENT_ITEM_ERRORS = frozenset(
    {
        "es_rejected_execution_exception",
        "circuit_breaking_exception",
        "unavailable_shards_exception",
        "process_cluster_event_timeout_exception",
        "cluster_block_exception",  # a write block or a full disk: an operator fixes it
    }
)
# Item errors that say the credentials may not write here: an operator fixes it, the document is fine.
_AUTH_ITEM_ERRORS = frozenset({"security_exception", "authorization_exception"})


@dataclass(frozen=True, slots=True)
class BulkVerdict:
    """The classification of one bulk request, in terms of its item numbers.

    `result.retry_only` and `result.rejected` index the request's items; the sink maps them back to
    the batch. `split`: the request was too large (413), send it in halves. `auth_failed`: the
    cluster refused the credentials. `cluster_ok`: the cluster answered and can take writes
    (the sink's readiness).
    """

    result: SendResult
    split: bool = False
    auth_failed: bool = False
    cluster_ok: bool = True


def classify_bulk_response(
    status: int | None,
    body: Any,
    *,
    indices: Sequence[str],
    own_ids: bool,
    retry_after: float | None = None,
    error: str = "",
    auth_retry_interval: float = 30.0,
) -> BulkVerdict:
    """Classifies the answer to a bulk request of `len(indices)` items.

    `status` None means no answer (connection refused, reset, timeout; `error` says which).
    `body` is the decoded answer, or its JSON bytes (decoded here only when items failed).
    `indices` names each item's index (for reasons); `own_ids` says the request set
    deterministic ids, so a 409 on `create` is our own earlier write (delivered).
    """
    if status is None:
        return BulkVerdict(
            SendResult(Outcome.RETRY, reason=f"no answer from Elasticsearch: {error}"),
            cluster_ok=False,
        )
    if 200 <= status < 300:
        return _classify_items(body, indices, own_ids, auth_retry_interval)
    what = f"Elasticsearch answered {status}{_describe_error(body)}"
    if status == 413:
        return BulkVerdict(
            SendResult(Outcome.RETRY, reason=f"{what} (request too large)"), split=True
        )
    if status == 429:
        return BulkVerdict(SendResult(Outcome.RETRY, reason=what, retry_after=retry_after))
    if status in (401, 403):
        return BulkVerdict(
            SendResult(
                Outcome.RETRY,
                reason=f"{what}: check the sink's auth settings and the user's or API key's privileges",
                retry_after=max(retry_after or 0.0, auth_retry_interval),
            ),
            auth_failed=True,
            cluster_ok=False,
        )
    if status == 400:
        # The cluster refused the request as a whole (a malformed body): resending it cannot help.
        return BulkVerdict(SendResult(Outcome.REJECTED, reason=what))
    # 5xx, and 4xx like 404 from a proxy or a wrong path prefix: the cluster or the route is
    # not right now; retry rather than dead-letter a whole batch for a configuration slip.
    return BulkVerdict(
        SendResult(Outcome.RETRY, reason=what, retry_after=retry_after), cluster_ok=False
    )


@dataclass(frozen=True, slots=True)
class BulkRetryLogic:
    """The `RetryLogic` of one bulk request of `len(indices)` items (see `classify_bulk_response`)."""

    indices: Sequence[str]
    own_ids: bool
    auth_retry_interval: float = 30.0

    def answered(self, answer: Answer) -> BulkVerdict:
        """The verdict on the cluster's answer."""
        return classify_bulk_response(
            answer.status,
            answer.body,
            indices=self.indices,
            own_ids=self.own_ids,
            retry_after=answer.retry_after,
            auth_retry_interval=self.auth_retry_interval,
        )

    def unanswered(self, error: str) -> BulkVerdict:
        """The verdict when the cluster did not answer."""
        return classify_bulk_response(
            None, None, indices=self.indices, own_ids=self.own_ids, error=error
        )


def _classify_items(
    body: Any, indices: Sequence[str], own_ids: bool, auth_retry_interval: float
) -> BulkVerdict:
    if isinstance(body, bytes):
        # A clean answer is `{"errors":false,"items":[...]}`: decoding thousands of items into
        # dicts costs more than encoding them did, and says nothing the flag does not.
        if _CLEAN.search(body, 0, 64):
            return BulkVerdict(DELIVERED)
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            body = None
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return BulkVerdict(
            SendResult(Outcome.RETRY, reason="Elasticsearch answered 2xx without bulk items")
        )
    if not body.get("errors"):
        return BulkVerdict(DELIVERED)
    items: list[Any] = body["items"]
    if len(items) != len(indices):
        return BulkVerdict(
            SendResult(
                Outcome.RETRY,
                reason=f"bulk response has {len(items)} items for {len(indices)} sent",
            )
        )
    retry: list[int] = []
    rejected: list[tuple[int, str]] = []
    auth_failed = False
    first_retry_reason = ""
    for number, item in enumerate(items):
        result: Any = next(iter(item.values()), {}) if isinstance(item, dict) else {}
        status = result.get("status", 0) if isinstance(result, dict) else 0
        if 200 <= status < 300:
            continue
        error = result.get("error") if isinstance(result, dict) else None
        kind = error.get("type", "") if isinstance(error, dict) else ""
        if status == 409 and own_ids and kind == "version_conflict_engine_exception":
            continue  # our deterministic id is already indexed: a replay, delivered before
        if status == 429 or status >= 500 or kind in _TRANSIENT_ITEM_ERRORS:
            retry.append(number)
        elif status in (401, 403) or kind in _AUTH_ITEM_ERRORS:
            retry.append(number)
            auth_failed = True
        else:
            rejected.append((number, f"{indices[number]}: {status}{_describe_error(result)}"))
            continue
        if not first_retry_reason:
            first_retry_reason = f"{indices[number]}: {status}{_describe_error(result)}"
    if not retry:
        return BulkVerdict(SendResult(Outcome.DELIVERED, rejected=rejected))
    reason = f"{len(retry)} of {len(items)} items to retry, first: {first_retry_reason}"
    return BulkVerdict(
        SendResult(
            Outcome.RETRY,
            reason=reason,
            retry_only=retry,
            rejected=rejected,
            retry_after=auth_retry_interval if auth_failed else None,
        ),
        auth_failed=auth_failed,
        cluster_ok=not auth_failed,
    )


def _describe_error(body: Any) -> str:
    """` type: reason (caused by: ...)` from an Elasticsearch error object, or ''."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return f" {error}"
    if not isinstance(error, dict):
        return ""
    text = f" {error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return text
