"""The bulk encoder against literal NDJSON, and the deterministic document ids."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.encoder import Target, document_id, encode_bulk


def settings(**kwargs: Any) -> ElasticsearchSinkSettings:
    return ElasticsearchSinkSettings(
        name="es", type="elasticsearch", hosts=["http://127.0.0.1:9200"], **kwargs
    )


def record(offset: int = 0, message: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-24T10:00:00.000Z",
        "message": message,
        "log": {
            "file": {"path": "/var/log/a.log", "device_id": "2049", "inode": "77"},
            "offset": offset,
        },
        **extra,
    }


def test_document_id_is_blake2b_of_file_identity_offset_and_message() -> None:
    key = b"2049\x1f77\x1f0\x1fhello"
    expected = base64.urlsafe_b64encode(hashlib.blake2b(key, digest_size=15).digest()).decode()
    assert document_id(record()) == expected
    assert len(expected) == 20


def test_document_id_ignores_the_path_but_not_offset_inode_or_content() -> None:
    base = document_id(record())
    rotated = record()
    rotated["log"]["file"]["path"] = "/var/log/a.log.1"
    assert document_id(rotated) == base
    assert document_id(record(offset=1)) != base
    reread = record()
    reread["@timestamp"] = "2026-11-25T00:00:00.000Z"  # read time of a line re-read after a crash
    assert document_id(reread) == base
    assert document_id(record(message="other")) != base
    reused = record()
    reused["log"]["file"]["inode"] = "78"
    assert document_id(reused) != base


def test_data_stream_items_are_literal_ndjson_with_stream_fields_spliced_in() -> None:
    entry = record()
    doc_id = document_id(entry)
    encoded = encode_bulk([entry], Target.from_settings(settings(dataset="nginx.access")))
    assert encoded.body() == (
        b'{"create":{"_index":"logs-nginx.access-default","_id":"' + doc_id.encode() + b'"}}\n'
        b'{"@timestamp":"2026-11-24T10:00:00.000Z","message":"hello",'
        b'"log":{"file":{"path":"/var/log/a.log","device_id":"2049","inode":"77"},"offset":0},'
        b'"data_stream":{"type":"logs","dataset":"nginx.access","namespace":"default"},'
        b'"event":{"dataset":"nginx.access"}}\n'
    )
    assert encoded.indices == ["logs-nginx.access-default"]
    assert encoded.positions == [0]


def test_an_existing_event_object_is_merged_not_duplicated_and_the_record_is_not_changed() -> None:
    entry = record(event={"original": "raw line", "dataset": "wrong"})
    encoded = encode_bulk([entry], Target.from_settings(settings(dataset="app", namespace="prod")))
    _action, doc = encoded.body().splitlines()
    parsed = orjson.loads(doc)
    assert parsed["event"] == {"original": "raw line", "dataset": "app"}
    assert parsed["data_stream"] == {"type": "logs", "dataset": "app", "namespace": "prod"}
    assert doc.count(b'"event"') == 1
    assert entry["event"] == {"original": "raw line", "dataset": "wrong"}
    assert "data_stream" not in entry


def test_id_none_sends_create_without_id() -> None:
    encoded = encode_bulk([record()], Target.from_settings(settings(id="none")))
    assert encoded.body().split(b"\n")[0] == b'{"create":{"_index":"logs-generic-default"}}'


def test_index_mode_renders_the_template_per_record_and_falls_back_to_the_default() -> None:
    target = Target.from_settings(
        settings(index="logs-{service.name}-%Y.%m.%d", default_index="logs-other-%Y.%m")
    )
    with_service = record(service={"name": "Checkout"})
    without = record(offset=5)
    encoded = encode_bulk([with_service, without], target)
    assert encoded.indices == ["logs-checkout-2026.11.24", "logs-other-2026.11"]
    first_action, first_doc, second_action, _ = encoded.body().splitlines()
    assert first_action == (
        b'{"create":{"_index":"logs-checkout-2026.11.24","_id":"'
        + document_id(with_service).encode()
        + b'"}}'
    )
    assert orjson.loads(first_doc) == with_service  # no data_stream fields in index mode
    assert second_action.startswith(b'{"create":{"_index":"logs-other-2026.11","_id":"')


def test_records_that_cannot_be_encoded_are_rejected_with_the_reason_and_the_rest_go_on() -> None:
    entries = [record(0), record(1, n=2**70), record(2)]
    encoded = encode_bulk(entries, Target.from_settings(settings()))
    assert encoded.positions == [0, 2]
    assert [p for p, _ in encoded.rejected] == [1]
    assert "cannot encode the record as JSON" in encoded.rejected[0][1]
    assert len(encoded.body().splitlines()) == 4


def test_a_subset_of_items_makes_a_body_of_just_those_items() -> None:
    entries = [record(i, message=f"m{i}") for i in range(4)]
    encoded = encode_bulk(entries, Target.from_settings(settings()))
    lines = encoded.body([1, 3]).splitlines()
    assert [orjson.loads(line)["message"] for line in lines[1::2]] == ["m1", "m3"]
