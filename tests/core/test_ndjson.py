from __future__ import annotations

from logship.core.ndjson import encode_line, encode_ndjson


def test_entries_become_one_json_document_per_line() -> None:
    entries = [
        {"message": "a", "n": 1},
        {"message": 'quote " and \n newline', "log": {"offset": 5}},
    ]
    assert encode_ndjson(entries) == (
        b'{"message":"a","n":1}\n{"message":"quote \\" and \\n newline","log":{"offset":5}}\n'
    )


def test_one_line_matches_the_batch_encoding() -> None:
    entry = {"@timestamp": "2026-11-24T00:00:00.000Z", "message": "caf\u00e9 \x00"}
    assert encode_ndjson([entry]) == encode_line(entry)
    assert encode_line(entry).endswith(b"\n")


def test_no_entries_is_an_empty_body() -> None:
    assert encode_ndjson([]) == b""
