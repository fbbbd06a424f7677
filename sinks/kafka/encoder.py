"""Message values for a batch: pure functions of its records (topic and key are `route`'s)."""

from __future__ import annotations

import orjson

from logship.core.batch import Batch
from logship.core.record import LogEntry

JSON_OPTIONS = orjson.OPT_NON_STR_KEYS
"""Records may hold non-string keys (a parser's int fields): they become JSON strings."""


def encode_value(entry: LogEntry) -> bytes:
    """One record as the message value: compact JSON, no trailing newline."""
    return orjson.dumps(entry, option=JSON_OPTIONS)


def encode_values(batch: Batch) -> list[bytes]:
    """The message values of a batch, in its order (an encoded batch is split into its lines)."""
    if batch.parts is not None:
        return batch.lines()  # encoded by the tailer (constant topic, no key)
    dumps = orjson.dumps
    options = JSON_OPTIONS
    return [dumps(entry, option=options) for entry in batch.entries]
