"""Which data stream a record goes to when the sink routes by the record's `event.dataset`
(the sink's `dataset` unset): `logs-<event.dataset>-<namespace>`, `generic` for a record without
one. Pure functions.

A dataset that Elasticsearch would refuse in a data stream name (a user rule that captures it
from the line, say `Shop-Edge`) is made valid the way Elasticsearch's own `reroute` processor
does it: lowercased, each of `\\/*?"<>| ,#:-` replaced by `_`, leading `_`, `.`, `+` removed,
cut to 100 bytes. The document's `event.dataset` then carries that name too, as data streams
require (the line's own text stays in `message`).
"""

from __future__ import annotations

import re
from typing import Any

from logship.core.record import LogEntry

DEFAULT_DATASET = "generic"
"""The dataset of records without `event.dataset` (and Elasticsearch's own default)."""

_INVALID = re.compile(r'[\\/*?"<>| ,#:\-]')
_VALID = re.compile(r"^[a-z0-9][a-z0-9_.+@!$%&'();=\[\]^`{}~]*$")


def record_dataset(entry: LogEntry) -> str:
    """The dataset of a record's data stream: its `event.dataset`, made valid, else `generic`."""
    event = entry.get("event")
    if type(event) is not dict:
        return DEFAULT_DATASET
    value = event.get("dataset")
    if type(value) is not str:
        return DEFAULT_DATASET
    if _VALID.match(value) and len(value) <= 100:
        return value
    return sanitise(value)


def sanitise(value: str) -> str:
    """A data stream name part from any text, as Elasticsearch's `reroute` processor makes it."""
    text = _INVALID.sub("_", value.lower()).lstrip("_.+")
    encoded = text.encode("utf-8", "surrogatepass")[:100]
    text = encoded.decode("utf-8", "ignore")
    return text or DEFAULT_DATASET


def stream_fields(kind: str, dataset: str, namespace: str) -> dict[str, Any]:
    """The document's `data_stream` object."""
    return {"type": kind, "dataset": dataset, "namespace": namespace}
