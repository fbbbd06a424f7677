"""Request bodies for a batch: pure functions of the records' JSON text."""

from __future__ import annotations

import gzip

from sinks.http.config import Encoding

CONTENT_TYPES: dict[str, str] = {
    "json_array": "application/json",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}


def bodies(lines: list[bytes], encoding: Encoding) -> list[bytes]:
    """The request bodies for records given as JSON documents (one request per body)."""
    if encoding == "json":
        return lines
    if encoding == "ndjson":
        return [b"".join(line + b"\n" for line in lines)]
    return [b"[" + b",".join(lines) + b"]"]


def compress(body: bytes, compression: str) -> bytes:
    """The body as sent (gzip level 1: cheap, and most of the gain on JSON)."""
    return gzip.compress(body, compresslevel=1) if compression == "gzip" else body
