"""classify_bulk_response: every kind of bulk answer, one verdict each."""

from __future__ import annotations

from typing import Any

import orjson

from logship.core.sink import Outcome
from sinks.elasticsearch.classify import classify_bulk_response

INDICES = ["logs-app-default"] * 6


def item(status: int, kind: str = "", reason: str = "", op: str = "create") -> dict[str, Any]:
    result: dict[str, Any] = {"status": status}
    if kind:
        result["error"] = {"type": kind, "reason": reason}
    return {op: result}


def bulk(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "errors": any(next(iter(i.values()))["status"] >= 300 for i in items),
        "items": list(items),
    }


def classify(status: int | None, body: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("indices", INDICES)
    kwargs.setdefault("own_ids", True)
    return classify_bulk_response(status, body, **kwargs)


def test_all_created_is_delivered() -> None:
    verdict = classify(200, bulk(*[item(201)] * 6))
    assert verdict.result.outcome is Outcome.DELIVERED
    assert not verdict.result.rejected
    assert verdict.cluster_ok


def test_items_rejected_for_load_or_server_errors_are_the_only_ones_retried() -> None:
    verdict = classify(
        200,
        bulk(
            item(201),
            item(
                429,
                "es_rejected_execution_exception",
                "rejected execution of coordinating operation",
            ),
            item(201),
            item(503, "unavailable_shards_exception", "primary shard is not active"),
            item(500, "exception", "boom"),
            item(201),
        ),
    )
    result = verdict.result
    assert result.outcome is Outcome.RETRY
    assert list(result.retry_only) == [1, 3, 4]
    assert not result.rejected
    assert "3 of 6 items" in result.reason
    assert "es_rejected_execution_exception" in result.reason


def test_mapping_errors_are_rejected_with_the_index_and_reason_and_the_rest_delivered() -> None:
    verdict = classify(
        200,
        bulk(
            item(201),
            item(
                400, "document_parsing_exception", "[1:20] failed to parse field [n] of type [long]"
            ),
            *[item(201)] * 4,
        ),
        indices=["a", "logs-web-default", "a", "a", "a", "a"],
    )
    assert verdict.result.outcome is Outcome.DELIVERED
    ((number, reason),) = verdict.result.rejected
    assert number == 1
    assert reason.startswith("logs-web-default: 400 document_parsing_exception:")
    assert "failed to parse field [n]" in reason


def test_a_409_on_our_own_id_is_a_replay_already_delivered() -> None:
    conflict = item(409, "version_conflict_engine_exception", "document already exists")
    verdict = classify(200, bulk(item(201), conflict, *[item(201)] * 4))
    assert verdict.result.outcome is Outcome.DELIVERED
    assert not verdict.result.rejected
    without_ids = classify(200, bulk(item(201), conflict, *[item(201)] * 4), own_ids=False)
    assert [n for n, _ in without_ids.result.rejected] == [1]


def test_mixed_retry_and_reject_in_one_answer() -> None:
    verdict = classify(
        200,
        bulk(
            item(429, "es_rejected_execution_exception", "queue full"),
            item(400, "document_parsing_exception", "bad"),
            *[item(201)] * 4,
        ),
    )
    assert verdict.result.outcome is Outcome.RETRY
    assert list(verdict.result.retry_only) == [0]
    assert [n for n, _ in verdict.result.rejected] == [1]


def test_an_item_forbidden_by_security_is_retried_slowly_and_marks_the_sink_not_ready() -> None:
    verdict = classify(
        200,
        bulk(
            item(403, "security_exception", "action [indices:data/write/bulk[s]] is unauthorized"),
            *[item(201)] * 5,
        ),
        auth_retry_interval=45.0,
    )
    assert verdict.result.outcome is Outcome.RETRY
    assert list(verdict.result.retry_only) == [0]
    assert verdict.auth_failed
    assert not verdict.cluster_ok
    assert verdict.result.retry_after == 45.0


def test_no_answer_is_retried_and_not_ready() -> None:
    verdict = classify(None, error="ConnectionError: connection refused")
    assert verdict.result.outcome is Outcome.RETRY
    assert not verdict.result.retry_only
    assert "connection refused" in verdict.result.reason
    assert not verdict.cluster_ok


def test_whole_request_429_and_5xx_are_retried_with_the_retry_after_hint() -> None:
    too_many = classify(
        429,
        {"error": {"type": "circuit_breaking_exception", "reason": "data too large"}},
        retry_after=7.0,
    )
    assert too_many.result.outcome is Outcome.RETRY
    assert too_many.result.retry_after == 7.0
    assert too_many.cluster_ok  # overloaded, not broken
    unavailable = classify(503, None, retry_after=3.0)
    assert unavailable.result.outcome is Outcome.RETRY
    assert unavailable.result.retry_after == 3.0
    assert not unavailable.cluster_ok


def test_413_asks_for_a_split() -> None:
    verdict = classify(413, None)
    assert verdict.split
    assert verdict.result.outcome is Outcome.RETRY


def test_401_and_403_retry_slowly_with_a_clear_reason() -> None:
    for status in (401, 403):
        verdict = classify(
            status,
            {
                "error": {
                    "type": "security_exception",
                    "reason": "unable to authenticate user [agent]",
                }
            },
            auth_retry_interval=30.0,
        )
        assert verdict.auth_failed
        assert verdict.result.outcome is Outcome.RETRY
        assert verdict.result.retry_after == 30.0
        assert "unable to authenticate" in verdict.result.reason
        assert "auth settings" in verdict.result.reason


def test_a_whole_request_400_rejects_the_batch_and_other_4xx_are_retried() -> None:
    bad = classify(
        400,
        {
            "error": {
                "type": "illegal_argument_exception",
                "reason": "Malformed action/metadata line [1]",
            }
        },
    )
    assert bad.result.outcome is Outcome.REJECTED
    assert "Malformed action" in bad.result.reason
    not_found = classify(404, "Not Found")
    assert not_found.result.outcome is Outcome.RETRY
    assert not not_found.cluster_ok


def test_a_2xx_without_items_or_with_a_wrong_item_count_is_retried() -> None:
    assert classify(200, "<html>proxy</html>").result.outcome is Outcome.RETRY
    short = classify(200, bulk(item(201), item(429, "es_rejected_execution_exception", "x")))
    assert short.result.outcome is Outcome.RETRY
    assert "2 items for 6 sent" in short.result.reason


def test_raw_answers_are_decoded_only_when_an_item_failed() -> None:
    clean = classify(200, b'{"errors":false,"items":[{"create":{"status":201}}]}')
    assert clean.result.outcome is Outcome.DELIVERED
    failed = orjson.dumps(
        bulk(
            item(201), item(429, "es_rejected_execution_exception", "queue full"), *[item(201)] * 4
        )
    )
    verdict = classify(200, failed)
    assert verdict.result.outcome is Outcome.RETRY
    assert list(verdict.result.retry_only) == [1]
    assert classify(200, b"<html>").result.outcome is Outcome.RETRY
