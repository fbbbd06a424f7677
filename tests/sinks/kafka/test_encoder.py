"""Kafka message values: the exact bytes a record becomes."""

from __future__ import annotations

from logship.core.batch import Batch
from sinks.kafka.encoder import encode_value, encode_values


def test_a_record_is_compact_json_without_a_newline() -> None:
    record = {"message": "GET / 200", "http": {"status": 200}, "tags": ["a", "é"]}
    assert (
        encode_value(record)
        == b'{"message":"GET / 200","http":{"status":200},"tags":["a","\xc3\xa9"]}'
    )


def test_non_string_keys_become_json_strings() -> None:
    assert encode_value({"counts": {1: 2}}) == b'{"counts":{"1":2}}'


def test_a_batch_of_records_is_encoded_one_value_per_record_in_order() -> None:
    batch = Batch([{"n": 1}, {"n": 2}])
    assert encode_values(batch) == [b'{"n":1}', b'{"n":2}']


def test_an_encoded_batch_is_split_into_its_lines_unchanged() -> None:
    batch = Batch.encoded(b'{"n":1}\n{"n":2}\n', 2, [], 16)
    assert encode_values(batch) == [b'{"n":1}', b'{"n":2}']
