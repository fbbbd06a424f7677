"""Bulk request bodies: NDJSON `create` actions and documents built with orjson. Pure functions.

One item per record: `{"create":{"_index":"logs-nginx.access-default","_id":"..."}}\\n{doc}\\n`.
Items stay separate byte strings so a request can be cut in parts (a 413, `max_request_bytes`)
without encoding anything twice; the body is their concatenation.
"""

from __future__ import annotations

import hashlib
from binascii import b2a_base64 as _b2a_base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from logship.core.record import LogEntry
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.streams import record_dataset
from sinks.template import FieldTemplate

_OPTIONS = orjson.OPT_NON_STR_KEYS
_SEP = "\x1f"  # unit separator: cannot occur in the numeric parts, so fields cannot run together
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_NO_FILE: dict[str, Any] = {}
_blake2b = hashlib.blake2b
_dumps = orjson.dumps
_Stream = tuple[str, dict[str, Any], bytes, bytes]
"""A data stream: name, `data_stream` fields, document suffix without / with an `event`."""


def document_id(entry: LogEntry) -> str:
    """The deterministic `_id` of a record: 20 base64url characters (120 bits of blake2b).

    Hashes the file identity (`log.file.device_id`, `log.file.inode`), `log.offset` and the
    record's `message`: the same line read again after a crash gets the same id, while a new file
    that reuses an inode (and so offsets) differs in its content. Not hashed: the path (it
    changes when a file is rotated) and `@timestamp` (a line whose rule parses no time gets the
    time it was read, which differs when it is read again after a crash).
    """
    return _id_bytes(entry).decode("ascii")


def _id_bytes(entry: LogEntry) -> bytes:
    log = entry.get("log")
    if isinstance(log, dict):
        file = log.get("file")
        offset = log.get("offset")
        if not isinstance(file, dict):
            file = _NO_FILE
    else:
        file, offset = _NO_FILE, None
    key = (
        f"{file.get('device_id', '')}{_SEP}{file.get('inode', '')}{_SEP}{offset}{_SEP}"
        f"{entry.get('message', '')}"
    )
    digest = _blake2b(key.encode("utf-8", "surrogatepass"), digest_size=15).digest()
    return _b2a_base64(digest, newline=False).translate(_URLSAFE)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how a sink's documents are written, fixed by its settings."""

    data_stream: tuple[str, str | None, str] | None
    """(type, dataset, namespace) in data-stream mode; None in index mode. A None dataset:
    each record's `event.dataset` (`sinks.elasticsearch.streams`)."""
    index: FieldTemplate | None
    default_index: FieldTemplate
    ids: bool

    @classmethod
    def from_settings(cls, settings: ElasticsearchSinkSettings) -> Target:
        """The target described by a sink's settings."""
        return cls(
            data_stream=None
            if settings.index is not None
            else ("logs", settings.dataset, settings.namespace),
            index=FieldTemplate(settings.index) if settings.index is not None else None,
            default_index=FieldTemplate(settings.default_index),
            ids=settings.id == "deterministic",
        )


@dataclass(slots=True)
class BulkItems:
    """The encoded items of one batch. `positions[n]` is the batch index of item n."""

    items: list[bytes] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    indices: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """Batch entries that could not be encoded (index into the batch, reason)."""

    def body(self, numbers: Sequence[int] | None = None) -> bytes:
        """The NDJSON body of all items, or of the items `numbers`."""
        if numbers is None:
            return b"".join(self.items)
        items = self.items
        return b"".join([items[n] for n in numbers])


def index_name(entry: LogEntry, target: Target) -> str | None:
    """The index (or data stream) a record goes to; None when even the default cannot be rendered."""
    if target.data_stream is not None:
        kind, dataset, namespace = target.data_stream
        return f"{kind}-{dataset or record_dataset(entry)}-{namespace}"
    assert target.index is not None
    name = target.index.render(entry)
    if name is None:
        name = target.default_index.render(entry)
        if name is None:
            return None
    # Elasticsearch refuses uppercase index names; a field value like `Web` would reject the item.
    return name.lower()


def encode_bulk(entries: Sequence[LogEntry], target: Target) -> BulkItems:
    """Encodes every record as a `create` item; records that cannot be encoded are listed in `rejected`."""
    out = BulkItems()
    items = out.items
    positions = out.positions
    indices = out.indices
    dumps = orjson.dumps
    ids = target.ids
    stream = target.data_stream
    per_record = stream is not None and stream[1] is None
    # Per dataset: (stream name, data_stream fields, suffix without and with an `event` object).
    streams: dict[str, _Stream] = {}

    def stream_of(dataset: str) -> _Stream:
        found = streams.get(dataset)
        if found is None:
            assert stream is not None
            kind, _, namespace = stream
            fields = {"type": kind, "dataset": dataset, "namespace": namespace}
            ds = b',"data_stream":' + dumps(fields)
            found = (
                f"{kind}-{dataset}-{namespace}",
                fields,
                ds + b"}\n",
                ds + b',"event":' + dumps({"dataset": dataset}) + b"}\n",
            )
            streams[dataset] = found
        return found

    fixed = stream_of(stream[1]) if stream is not None and stream[1] is not None else None
    # Per index: the action's opening up to the id, and the action's closing (with the newline).
    actions: dict[str, tuple[bytes, bytes]] = {}
    join = b"".join
    chosen: _Stream | None = fixed
    for position, entry in enumerate(entries):
        if fixed is not None:
            name: str | None = fixed[0]
        elif per_record:
            chosen = stream_of(record_dataset(entry))
            name = chosen[0]
        else:
            name = index_name(entry, target)
        if name is None:
            out.rejected.append(
                (position, "no index: the record has no @timestamp for default_index")
            )
            continue
        action = actions.get(name)
        if action is None:
            opening = b'{"create":{"_index":' + dumps(name)
            action = (opening + b',"_id":"', b'"}}\n') if ids else (opening, b"}}\n")
            actions[name] = action
        doc_id = _id_bytes(entry) if ids else b""
        try:
            if chosen is None:
                item = join((action[0], doc_id, action[1], dumps(entry, option=_OPTIONS), b"\n"))
            else:
                item = join((action[0], doc_id, action[1], *_stream_doc(entry, chosen)))
        except (TypeError, ValueError) as exc:  # orjson: an int beyond 64 bits, a str subclass...
            out.rejected.append((position, f"cannot encode the record as JSON: {exc}"))
            continue
        items.append(item)
        positions.append(position)
        indices.append(name)
    return out


def _stream_doc(entry: LogEntry, chosen: _Stream) -> tuple[bytes | memoryview, bytes]:
    """A record's document in data-stream mode, as (body without its closing brace, the rest)."""
    _, fields, suffix, suffix_with_event = chosen
    if entry and "data_stream" not in entry:
        # The common cases: splice the stream fields in before the closing brace instead of
        # copying the record (records are shared, read-only).
        event = entry.get("event")
        if event is None:
            return memoryview(_dumps(entry, option=_OPTIONS))[:-1], suffix_with_event
        if type(event) is dict and event.get("dataset") == fields["dataset"]:
            return memoryview(_dumps(entry, option=_OPTIONS))[:-1], suffix
    return _dumps(_with_stream(entry, fields), option=_OPTIONS), b"\n"


def _with_stream(entry: LogEntry, stream_fields: dict[str, Any]) -> LogEntry:
    """A shallow copy of a record with `data_stream.*` and `event.dataset` set."""
    doc = dict(entry)
    doc["data_stream"] = stream_fields
    event = entry.get("event")
    if event is None:
        doc["event"] = {"dataset": stream_fields["dataset"]}
    elif isinstance(event, dict):
        doc["event"] = {**event, "dataset": stream_fields["dataset"]}
    # A non-object `event` is left alone: Elasticsearch rejects it against the ECS mapping and
    # the record is dead-lettered with that reason, rather than silently losing the value here.
    return doc
