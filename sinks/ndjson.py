"""NDJSON encoding of entries with orjson: one JSON document per line."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from logship.record import LogEntry

_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def encode_line(entry: LogEntry) -> bytes:
    """One entry as a JSON line (with its trailing newline)."""
    return orjson.dumps(entry, option=_OPTIONS)


def encode_ndjson(entries: Iterable[LogEntry]) -> bytes:
    """Entries as NDJSON: each a JSON line; the whole is ready to append to a file or send."""
    dumps = orjson.dumps
    options = _OPTIONS
    return b"".join([dumps(entry, option=options) for entry in entries])
