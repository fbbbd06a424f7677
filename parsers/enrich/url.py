"""The `url` step: `url.path`, `.query`, `.fragment`, `.extension` of `url.original` (the
request target of an access log line), and `.scheme`, `.domain`, `.port` when it is an
absolute URL. Shaped like Elasticsearch's `uri_parts` processor, which Filebeat's pipelines
use: path, query and fragment are percent-decoded, the query has no `?`, the extension no dot,
and a target that is not a valid URI reference (a space, `|`, a bare `%`, ...) gets no parts
(counted as failed; `url.original` keeps the text).
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from logship.core.record import LogEntry
from parsers.enrich.settings import UrlStepSettings
from parsers.enrich.step import FieldSource, StepCounts, ensure

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# What java.net.URI (behind `uri_parts`) refuses in a URI reference: ASCII controls, space,
# and these; plus a `%` not followed by two hex digits, and a second `#`.
_ILLEGAL = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}\[\]]|%(?![0-9A-Fa-f]{2})')
_CACHE = 4096


def _decode(text: str) -> str:
    return unquote(text, errors="replace") if "%" in text else text


def _extension(path: str) -> str | None:
    """`/a/b.tar.gz` -> "gz"; only the last segment counts (`/v1.2/users` has none)."""
    last = path.rpartition("/")[2]
    dot = last.rfind(".")
    if dot < 0 or dot == len(last) - 1:
        return None
    return last[dot + 1 :]


@functools.lru_cache(maxsize=_CACHE)
def url_parts(original: str) -> dict[str, Any] | None:
    """The parts the step writes for one URL, or None when it is not a URI reference."""
    absolute = _SCHEME.match(original) is not None
    # Absolute URLs `uri_parts` reads again leniently (java.net.URL): so do we.
    if not absolute and (_ILLEGAL.search(original) or original.count("#") > 1):
        return None
    parts: dict[str, Any] = {}
    if absolute or original.startswith("//"):
        split = urlsplit(original)
        if split.scheme:
            parts["scheme"] = split.scheme
        try:
            host, port = split.hostname, split.port
        except ValueError:  # a port that is not a number, or out of range
            return None
        if host:
            parts["domain"] = host
        if port is not None:
            parts["port"] = port
        path, query, fragment = split.path, split.query, split.fragment
        has_query, has_fragment = "?" in original, "#" in original
    else:
        rest, hash_mark, fragment = original.partition("#")
        path, question_mark, query = rest.partition("?")
        has_query, has_fragment = bool(question_mark), bool(hash_mark)
    parts["path"] = _decode(path)
    if has_query:
        parts["query"] = _decode(query)
    if has_fragment:
        parts["fragment"] = _decode(fragment)
    extension = _extension(parts["path"])
    if extension is not None:
        parts["extension"] = extension
    return parts


class UrlStep:
    """Adds URL parts beside `url.original` (or the configured field)."""

    name = "url"

    def __init__(self, settings: UrlStepSettings) -> None:
        self.settings = settings
        self.source = FieldSource(settings.field)
        self._parent = self.source.parent

    def apply(self, entries: list[LogEntry], counts: StepCounts) -> None:
        """Enriches every record with a URL."""
        parent, parts_of = self._parent, url_parts
        enriched = missed = failed = 0
        for entry, found_in, text in self.source.texts(entries):
            if not text:
                missed += 1
                continue
            # Long targets (scanners' junk) are not cached: the cache is bounded by count.
            parts = parts_of(text) if len(text) <= 2048 else parts_of.__wrapped__(text)
            if parts is None:
                failed += 1
                continue
            node = found_in if found_in is not None else ensure(entry, parent)
            if node is None:
                failed += 1
                continue
            node.update(parts)  # scalars only: records share no objects
            enriched += 1
        counts.enriched += enriched
        counts.missed += missed
        counts.failed += failed
