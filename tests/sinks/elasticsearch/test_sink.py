"""The sink in-process against the fake cluster: partial failures, replays, 413, auth, outages, TLS."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import Outcome, SinkError
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.queue import SinkQueue
from logship.deliver.worker import SinkWorker
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.encoder import document_id
from sinks.elasticsearch.sink import ElasticsearchSink
from tests.doubles.es_server import EsServer, Fault, basic_auth, make_test_ca
from tests.harness import read_ndjson, wait_until


@pytest.fixture
def server() -> Iterator[EsServer]:
    with EsServer() as srv:
        yield srv


def make_sink(url: str, **kwargs: Any) -> ElasticsearchSink:
    settings = ElasticsearchSinkSettings.model_validate(
        {"name": "es", "type": "elasticsearch", "hosts": [url], "dataset": "app", **kwargs}
    )
    return ElasticsearchSink(settings)


def records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "@timestamp": "2026-11-24T10:00:00.000Z",
            "message": f"line {i}",
            "n": i,
            "log": {"file": {"path": "/l/a.log", "device_id": "1", "inode": "9"}, "offset": i * 10},
        }
        for i in range(start, start + count)
    ]


def test_a_batch_is_indexed_into_the_data_stream_with_deterministic_ids(server: EsServer) -> None:
    sink = make_sink(server.url)
    entries = records(100)
    assert sink.send(Batch(entries)).outcome is Outcome.DELIVERED
    stored = server.state.sources("logs-app-default")
    assert set(stored) == {document_id(e) for e in entries}
    assert sorted(d["n"] for d in stored.values()) == list(range(100))
    (bulk,) = server.state.bulks
    assert bulk.gzip
    assert bulk.wire_bytes < bulk.raw_bytes / 3
    assert server.state.data_streams == {"logs-app-default"}
    sink.close(1)


def test_a_replayed_batch_is_delivered_without_indexing_twice(server: EsServer) -> None:
    sink = make_sink(server.url)
    entries = records(50)
    sink.send(Batch(entries[:30]))
    result = sink.send(Batch(entries))  # a replay after a crash: 30 were indexed already
    assert result.outcome is Outcome.DELIVERED
    assert not result.rejected
    assert server.state.count() == 50
    assert server.state.bulks[-1].item_statuses.count(409) == 30
    sink.close(1)


def test_only_items_rejected_under_load_are_resent(server: EsServer) -> None:
    failing = {f"line {i}" for i in (3, 17, 42)}
    seen: set[str] = set()

    def fault(index: str, doc_id: str | None, doc: dict[str, Any]) -> Any:
        if doc["message"] in failing and doc["message"] not in seen:
            seen.add(doc["message"])
            return 429, {"type": "es_rejected_execution_exception", "reason": "queue capacity 200"}
        return None

    server.state.item_fault = fault
    sink = make_sink(server.url)
    entries = records(60)
    result = sink.send(Batch(entries))
    assert result.outcome is Outcome.RETRY
    assert list(result.retry_only) == [3, 17, 42]
    again = sink.send(Batch([entries[i] for i in result.retry_only]))
    assert again.outcome is Outcome.DELIVERED
    resent = [doc_id for _, doc_id in server.state.bulks[1].items]
    assert resent == [document_id(entries[i]) for i in (3, 17, 42)]
    assert server.state.count() == 60
    sink.close(1)


def test_the_worker_retries_items_and_dead_letters_mapping_errors(
    server: EsServer, tmp_path: Path
) -> None:
    calls = {"n": 0}

    def fault(index: str, doc_id: str | None, doc: dict[str, Any]) -> Any:
        calls["n"] += 1
        if doc["n"] == 5 and calls["n"] < 20:
            return 503, {
                "type": "unavailable_shards_exception",
                "reason": "primary shard is not active",
            }
        return None

    server.state.item_fault = fault
    entries = records(10)
    entries[7] = {**entries[7], "n": "not a number"}  # the index maps n as long: a mapping error
    settings = ElasticsearchSinkSettings.model_validate(
        {
            "name": "es",
            "type": "elasticsearch",
            "hosts": [server.url],
            "dataset": "app",
            "retry": {"initial_backoff": "10ms", "max_backoff": "50ms"},
        }
    )
    sink = ElasticsearchSink(settings)
    queue = SinkQueue(1000, 1 << 20)
    acks = AckTracker()
    dead = DeadLetterFile(tmp_path, "es")
    worker = SinkWorker(sink, settings, queue, acks, dead, Metrics())
    worker.start()
    queue.put(Batch(entries[:1]))  # maps n as long first
    queue.put(Batch(entries[1:]))
    queue.close()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert server.state.count() == 9
    (letter,) = read_ndjson(tmp_path / "es.jsonl")
    assert letter["record"] == entries[7]
    assert letter["reason"].startswith("logs-app-default: 400 document_parsing_exception:")
    assert "failed to parse field [n] of type [long]" in letter["reason"]
    # The retried item went alone; the delivered ones were never sent twice.
    ids = server.state.bulk_item_ids()
    assert ids.count(document_id(entries[5])) > 1
    assert all(ids.count(document_id(e)) == 1 for i, e in enumerate(entries) if i not in (5,))
    sink.close(1)


def test_a_413_splits_the_request_and_lowers_the_size_for_later_batches(
    server: EsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server.state.max_content_length = 8 * 1024
    sink = make_sink(server.url)
    entries = records(100)  # about 30 KiB of NDJSON
    assert sink.send(Batch(entries)).outcome is Outcome.DELIVERED
    assert server.state.count() == 100
    assert sink.max_request_bytes < 16 * 1024 * 1024
    assert "too large (413)" in caplog.text
    too_big = {**records(1, 500)[0], "message": "x" * 20_000}
    result = sink.send(Batch([too_big, *records(5, 600)]))
    assert result.outcome is Outcome.DELIVERED
    ((position, reason),) = result.rejected
    assert position == 0
    assert "larger than Elasticsearch accepts" in reason
    assert server.state.count() == 105
    sink.close(1)


def test_bodies_above_max_request_bytes_go_in_several_requests(server: EsServer) -> None:
    sink = make_sink(server.url, max_request_bytes="4KiB")
    assert sink.send(Batch(records(100))).outcome is Outcome.DELIVERED
    assert len(server.state.bulks) > 5
    assert all(b.raw_bytes <= 4096 for b in server.state.bulks)
    assert server.state.count() == 100
    sink.close(1)


def test_whole_request_throttling_passes_retry_after_on(server: EsServer) -> None:
    sink = make_sink(server.url)
    server.state.request_faults.append(Fault(429, {"Retry-After": "12"}))
    result = sink.send(Batch(records(3)))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 12.0
    assert not result.retry_only
    server.state.request_faults.append(Fault(503, {"Retry-After": "2"}))
    result = sink.send(Batch(records(3)))
    assert (result.outcome, result.retry_after, sink.ready) == (Outcome.RETRY, 2.0, False)
    assert sink.send(Batch(records(3))).outcome is Outcome.DELIVERED
    assert sink.ready
    sink.close(1)


@pytest.mark.parametrize(
    ("auth", "header"),
    [
        ({"username": "agent", "password": "pw"}, basic_auth("agent", "pw")),
        ({"api_key": "aWQ6a2V5"}, "ApiKey aWQ6a2V5"),
        ({"bearer_token": "tok"}, "Bearer tok"),
    ],
)
def test_wrong_credentials_are_a_clear_error_and_not_ready_until_fixed(
    server: EsServer, caplog: pytest.LogCaptureFixture, auth: dict[str, str], header: str
) -> None:
    caplog.set_level(logging.INFO)
    server.state.credentials = {"Basic b3RoZXI6b3RoZXI="}
    sink = make_sink(server.url, auth=auth, auth_retry_interval="45s")
    sink.healthcheck()  # logs, does not raise: the agent starts and reports not ready
    assert not sink.ready
    result = sink.send(Batch(records(2)))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 45.0
    assert "401" in result.reason
    assert "refused the agent's credentials" in caplog.text
    assert not sink.ready
    server.state.credentials = {header}
    assert sink.send(Batch(records(2))).outcome is Outcome.DELIVERED
    assert sink.ready
    assert server.state.bulks[-1].authorization == header
    sink.close(1)


def test_an_unreachable_cluster_is_retried_and_the_batch_lands_when_it_is_back(
    server: EsServer,
) -> None:
    sink = make_sink(server.url, request_timeout="5s")
    server.down()
    result = sink.send(Batch(records(5)))
    assert result.outcome is Outcome.RETRY
    assert "no answer from Elasticsearch" in result.reason
    assert not sink.ready
    server.up()
    assert sink.send(Batch(records(5))).outcome is Outcome.DELIVERED
    assert sink.ready
    sink.close(1)


def test_a_slow_answer_times_out_and_the_resend_is_not_indexed_twice(server: EsServer) -> None:
    sink = make_sink(server.url, request_timeout="200ms")
    server.state.delay = 0.6
    result = sink.send(Batch(records(20)))
    assert result.outcome is Outcome.RETRY
    assert "timed out" in result.reason.lower()
    server.state.delay = 0
    wait_until(lambda: server.state.count() == 20, timeout=10, message="the slow request processed")
    assert sink.send(Batch(records(20))).outcome is Outcome.DELIVERED
    assert server.state.count() == 20
    sink.close(1)


def test_no_compression_when_the_level_is_zero(server: EsServer) -> None:
    sink = make_sink(server.url, compression_level=0, pipeline="my pipeline")
    sink.send(Batch(records(5)))
    (bulk,) = server.state.bulks
    assert not bulk.gzip
    assert bulk.wire_bytes == bulk.raw_bytes
    sink.close(1)


def test_a_server_that_is_not_elasticsearch_stops_the_start(server: EsServer) -> None:
    server.state.product_header = False
    with pytest.raises(SinkError, match="X-Elastic-Product"):
        make_sink(server.url).healthcheck()


def test_tls_with_a_self_signed_ca_from_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    files = make_test_ca(tmp_path / "tls")
    with EsServer(certfile=files.server_cert, keyfile=files.server_key) as tls_server:
        assert tls_server.url.startswith("https://")
        trusted = make_sink(tls_server.url, tls={"ca_file": str(files.ca_cert)})
        trusted.healthcheck()
        assert trusted.ready
        assert trusted.send(Batch(records(10))).outcome is Outcome.DELIVERED
        assert tls_server.state.count() == 10
        trusted.close(1)

        untrusted = make_sink(tls_server.url)  # the system CAs do not know ours
        result = untrusted.send(Batch(records(3)))
        assert result.outcome is Outcome.RETRY
        assert "certificate verify failed" in result.reason
        untrusted.close(1)

        unverified = make_sink(tls_server.url, tls={"verify": False})
        assert "TLS certificate verification is disabled" in caplog.text
        assert unverified.send(Batch(records(3, 10))).outcome is Outcome.DELIVERED
        unverified.close(1)


def test_a_write_only_key_refused_the_version_request_is_still_ready(server: EsServer) -> None:
    server.state.root_forbidden = True
    sink = make_sink(server.url)
    sink.healthcheck()
    assert sink.ready, "a 403 on GET / means the cluster answered: reachable"
    sink.close(1)


def test_an_idle_agent_turns_ready_when_the_cluster_comes_up(
    server: EsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sinks.elasticsearch.sink.PROBE_INTERVAL", 0.05)
    server.down()
    sink = make_sink(server.url, request_timeout="1s")
    sink.healthcheck()
    assert not sink.ready
    server.up()
    wait_until(lambda: sink.ready, timeout=10, message="ready without sending anything")
    assert server.state.bulks == []
    sink.close(1)
