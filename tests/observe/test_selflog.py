"""Self-logs: JSON lines with key/value fields; secret values from the config are never printed."""

from __future__ import annotations

import logging

import orjson

from logship.core.secrets import redact_tree, secret_values
from logship.observe.selflog import JsonFormatter


def record(message: str, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("logship.test", logging.WARNING, __file__, 1, message, (), None)
    for key, value in fields.items():
        setattr(rec, key, value)
    return rec


def test_a_line_is_a_sentence_with_fields() -> None:
    line = JsonFormatter().format(record("Sink failing; retrying.", sink="es", attempt=3))
    doc = orjson.loads(line)
    assert doc["message"] == "Sink failing; retrying."
    assert doc["level"] == "warning"
    assert doc["logger"] == "logship.test"
    assert (doc["sink"], doc["attempt"]) == ("es", 3)
    assert doc["time"].endswith("Z")


def test_secret_values_of_the_config_are_masked_anywhere_in_a_line() -> None:
    config = {
        "sinks": [
            {"name": "es", "auth": {"username": "agent", "password": 'pa"ss\\word'}},
            {"name": "k", "sasl": {"password": "kafka-secret"}, "api_key": "key-123456"},
            {"name": "x", "credentials": {"token": "tok-abcdef", "nested": ["deep-secret"]}},
            {"name": "short", "password": "abc"},  # too short to mask safely in free text
        ]
    }
    secrets = secret_values(config)
    assert secrets == {'pa"ss\\word', "kafka-secret", "key-123456", "tok-abcdef", "deep-secret"}
    formatter = JsonFormatter(secrets)
    line = formatter.format(
        record(
            'Bulk refused: password pa"ss\\word rejected.',
            reason="sasl kafka-secret failed",
            hosts=["https://h", "key-123456"],
            password="ignored-by-key",
        )
    )
    doc = orjson.loads(line)
    assert doc["message"] == "Bulk refused: password *** rejected."
    assert doc["reason"] == "sasl *** failed"
    assert doc["hosts"] == ["https://h", "***"]
    assert doc["password"] == "***"
    for secret in secrets:
        assert secret not in line
        assert orjson.dumps(secret).decode()[1:-1] not in line


def test_redact_tree_masks_strings_inside_json_data() -> None:
    doc = {"sinks": [{"last_error": "401 for token tok-abcdef", "queue": {"events": 3}}]}
    assert redact_tree(doc, {"tok-abcdef"}) == {
        "sinks": [{"last_error": "401 for token ***", "queue": {"events": 3}}]
    }
