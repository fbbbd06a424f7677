"""The `http` sink: bodies, headers and auth as sent; answers classified; retries through the worker."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.app.config_file import ConfigError, parse_config
from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics, current_value
from logship.core.sink import Outcome
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.queue import SinkQueue
from logship.deliver.worker import SinkWorker
from sinks.http.classify import classify
from sinks.http.config import HttpSinkSettings
from sinks.http.sink import HttpSink
from sinks.transport.answer import Answer, parse_retry_after
from tests.doubles.es_server import make_test_ca
from tests.doubles.webhook_server import Reply, WebhookServer
from tests.harness import wait_until

RECORDS = [{"message": f"line {i}", "n": i} for i in range(3)]


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def sink_for(url: str, **options: Any) -> HttpSink:
    return HttpSink(
        HttpSinkSettings.model_validate({"name": "web", "type": "http", "url": url, **options})
    )


def test_a_batch_is_one_json_array_with_the_configured_headers(hook: WebhookServer) -> None:
    sink = sink_for(hook.url, headers={"X-Api-Key": "k-123"}, auth={"bearer_token": "t0k3n"})
    result = sink.send(Batch(list(RECORDS)))
    assert result.outcome is Outcome.DELIVERED
    [request] = hook.requests
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.json == RECORDS
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-api-key"] == "k-123"
    assert request.headers["authorization"] == "Bearer t0k3n"


def test_encoded_batches_go_as_ndjson_gzip_with_basic_auth(hook: WebhookServer) -> None:
    sink = sink_for(
        hook.url,
        encoding="ndjson",
        compression="gzip",
        auth={"username": "ship", "password": "s3cret"},
        method="PUT",
    )
    payload = b"".join(orjson.dumps(r) + b"\n" for r in RECORDS)
    assert sink.send(Batch.encoded(payload, 3, [], len(payload))).outcome is Outcome.DELIVERED
    [request] = hook.requests
    assert request.method == "PUT"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.headers["authorization"] == "Basic c2hpcDpzM2NyZXQ="
    assert gzip.decompress(request.body) == payload


def test_one_record_per_request_retries_only_what_was_not_accepted(hook: WebhookServer) -> None:
    sink = sink_for(hook.url, encoding="json")
    hook.script.extend([Reply(200), Reply(400, body=b"bad field"), Reply(503)])
    result = sink.send(Batch([{"n": i} for i in range(4)]))
    assert result.outcome is Outcome.RETRY
    assert list(result.retry_only) == [2, 3]
    assert [i for i, _ in result.rejected] == [1]
    assert "HTTP 400" in result.rejected[0][1]
    assert "bad field" in result.rejected[0][1]
    assert [r.json for r in hook.requests] == [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry_after"),
    [
        (200, {}, Outcome.DELIVERED, None),
        (204, {}, Outcome.DELIVERED, None),
        (429, {"Retry-After": "7"}, Outcome.RETRY, 7.0),
        (503, {}, Outcome.RETRY, None),
        (500, {}, Outcome.RETRY, None),
        (408, {}, Outcome.RETRY, None),
        (401, {}, Outcome.RETRY, None),
        (403, {}, Outcome.RETRY, None),
        (404, {}, Outcome.RETRY, None),
        (301, {"Location": "https://x/"}, Outcome.RETRY, None),
        (400, {}, Outcome.REJECTED, None),
        (413, {}, Outcome.REJECTED, None),
        (422, {}, Outcome.REJECTED, None),
    ],
)
def test_answers_are_classified(
    status: int, headers: dict[str, str], outcome: Outcome, retry_after: float | None
) -> None:
    answer = Answer(status, "body text", headers)
    result = classify(answer, "http://127.0.0.1:1")
    assert result.outcome is outcome
    assert result.retry_after == retry_after
    if outcome is not Outcome.DELIVERED:
        assert f"HTTP {status} from http://127.0.0.1:1: body text" in result.reason


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


def test_a_down_endpoint_is_retried_and_named_without_its_path(hook: WebhookServer) -> None:
    sink = sink_for(hook.url + "/T0123/secret-token")
    hook.down()
    result = sink.send(Batch(list(RECORDS)))
    assert result.outcome is Outcome.RETRY
    assert "connection refused" in result.reason
    assert "secret-token" not in result.reason
    assert f"127.0.0.1:{hook.port}" in result.reason


def test_a_slow_endpoint_times_out_and_is_retried(hook: WebhookServer) -> None:
    hook.delay = 5.0
    sink = sink_for(hook.url, request_timeout="200ms")
    result = sink.send(Batch(list(RECORDS)))
    assert result.outcome is Outcome.RETRY
    assert "timed out" in result.reason


def test_https_with_the_configured_ca(tmp_path: Path) -> None:
    files = make_test_ca(tmp_path)
    with WebhookServer(certfile=files.server_cert, keyfile=files.server_key) as server:
        trusted = sink_for(server.url, tls={"ca_file": str(files.ca_cert)})
        assert trusted.send(Batch(list(RECORDS))).outcome is Outcome.DELIVERED
        untrusted = sink_for(server.url)
        result = untrusted.send(Batch(list(RECORDS)))
        assert result.outcome is Outcome.RETRY
        assert "TLS" in result.reason
        assert len(server.delivered()) == 1


def test_the_worker_retries_429_and_500_with_backoff_then_delivers_once(
    tmp_path: Path, hook: WebhookServer
) -> None:
    hook.script.extend([Reply(429, {"Retry-After": "0"}), Reply(500), Reply(502)])
    settings = HttpSinkSettings.model_validate(
        {
            "name": "web",
            "type": "http",
            "url": hook.url,
            "batch": {"linger_ms": 0},
            "retry": {"initial_backoff": "10ms", "max_backoff": "50ms"},
        }
    )
    acks = AckTracker()
    acks.track("f", 0)
    ticket = acks.register("f", 100, sinks=1)
    queue = SinkQueue(100, 1 << 20)
    metrics = Metrics()
    worker = SinkWorker(
        HttpSink(settings), settings, queue, acks, DeadLetterFile(tmp_path, "web"), metrics
    )
    queue.put(Batch(list(RECORDS), [ticket], 100))
    queue.close()
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert hook.attempts() == 4
    assert hook.bodies() == [RECORDS]
    assert acks.watermark("f") == 100
    assert current_value(metrics.sink_batches, {"sink": "web", "outcome": "retry"}, "_total") == 3


def base_config(sink: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(
        {
            "inputs": [{"name": "app", "paths": ["/tmp/none/*.log"]}],
            "sinks": [{"name": "web", "type": "http", **sink}],
        }
    )


def test_auth_comes_from_the_environment(tmp_path: Path) -> None:
    config = parse_config(
        base_config({"url": "https://h:1/x", "auth": {"bearer_token": "${HOOK_TOKEN}"}}),
        "t.yaml",
        tmp_path,
        environ={"HOOK_TOKEN": "from-env"},
    )
    sink = config.sinks[0]
    assert isinstance(sink, HttpSinkSettings)
    assert sink.auth.bearer_token == "from-env"


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        ({"url": "ftp://x"}, "sinks[0].url (web): expected an http:// or https:// URL"),
        ({}, "sinks[0].url (web): required key is missing"),
        ({"url": "http://x", "encoding": "xml"}, "sinks[0].encoding (web): expected one of"),
        ({"url": "http://x", "headers": {"Host": "y"}}, "'Host' is set by the sink"),
        (
            {"url": "http://x", "auth": {"username": "u"}},
            "username and password go together",
        ),
    ],
)
def test_bad_http_sink_config_names_the_key(
    tmp_path: Path, sink: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(base_config(sink), "t.yaml", tmp_path, environ={})
    assert message in str(caught.value)


def test_the_worker_dead_letters_a_rejected_batch(tmp_path: Path, hook: WebhookServer) -> None:
    hook.default = Reply(400, body=b"schema mismatch")
    settings = HttpSinkSettings.model_validate(
        {"name": "web", "type": "http", "url": hook.url, "batch": {"linger_ms": 0}}
    )
    acks = AckTracker()
    queue = SinkQueue(100, 1 << 20)
    dead = DeadLetterFile(tmp_path, "web")
    worker = SinkWorker(HttpSink(settings), settings, queue, acks, dead, Metrics())
    queue.put(Batch(list(RECORDS), [], 100))
    queue.close()
    worker.start()
    wait_until(lambda: not worker.is_alive(), timeout=30)
    lines = [orjson.loads(x) for x in dead.path.read_bytes().splitlines()]
    assert [x["record"] for x in lines] == RECORDS
    assert "schema mismatch" in lines[0]["reason"]
