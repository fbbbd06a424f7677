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

from logship.record import LogEntry
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.template import FieldTemplate

_OPTIONS = orjson.OPT_NON_STR_KEYS
_SEP = "\x1f"  # unit separator: cannot occur in the numeric parts, so fields cannot run together
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_NO_FILE: dict[str, Any] = {}
_blake2b = hashlib.blake2b


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

    data_stream: tuple[str, str, str] | None
    """(type, dataset, namespace) in data-stream mode; None in index mode."""
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
        return f"{kind}-{dataset}-{namespace}"
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
    suffix = b""
    stream_fields: dict[str, Any] = {}
    stream_name = ""
    if stream is not None:
        kind, dataset, namespace = stream
        stream_name = f"{kind}-{dataset}-{namespace}"
        stream_fields = {"type": kind, "dataset": dataset, "namespace": namespace}
        suffix = b"".join(
            (
                b',"data_stream":',
                dumps(stream_fields),
                b',"event":',
                dumps({"dataset": dataset}),
                b"}\n",
            )
        )
    # Per index: the action's opening up to the id, and the action's closing (with the newline).
    actions: dict[str, tuple[bytes, bytes]] = {}
    join = b"".join
    for position, entry in enumerate(entries):
        name = stream_name or index_name(entry, target)
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
            if stream is None:
                item = join((action[0], doc_id, action[1], dumps(entry, option=_OPTIONS), b"\n"))
            elif "event" in entry or "data_stream" in entry or not entry:
                doc = dumps(_with_stream(entry, stream_fields), option=_OPTIONS)
                item = join((action[0], doc_id, action[1], doc, b"\n"))
            else:
                # The common case: splice the stream fields in before the closing brace
                # instead of copying the record (records are shared, read-only).
                doc = dumps(entry, option=_OPTIONS)
                item = join((action[0], doc_id, action[1], memoryview(doc)[:-1], suffix))
        except (TypeError, ValueError) as exc:  # orjson: an int beyond 64 bits, a str subclass...
            out.rejected.append((position, f"cannot encode the record as JSON: {exc}"))
            continue
        items.append(item)
        positions.append(position)
        indices.append(name)
    return out


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
