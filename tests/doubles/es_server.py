"""A local stand-in for Elasticsearch (and Kibana's data view API), for tests and the benchmark.

It answers the way a real cluster does where the agent can tell: `_bulk` with NDJSON parsing,
per-item results and `errors`, `create` conflicts (409) on existing ids, data streams that only
take `create`, dynamic mappings whose conflicts are 400 `document_parsing_exception`s, gzip
request bodies, `filter_path` on bulk answers, the `X-Elastic-Product: Elasticsearch` header,
HTTPS, and the endpoints `logship setup elasticsearch` calls (recorded in `requests`).

Failures are injected by tests: `item_fault` (per document: 429, 5xx, 400...), `request_faults`
(whole answers: 429 / 503 with Retry-After, 401, ...), `max_content_length` (413), `delay`,
`credentials` (401 without them), and `down()` / `up()` (connection refused, open connections cut).

Run alone (for the benchmark): `python -m tests.doubles.es_server --port 0 [--no-sources]`; it prints
`listening PORT` and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import gzip
import itertools
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from tests.doubles.http_server import KillableHttpServer, TrackedServer

ItemFault = Callable[[str, str | None, dict[str, Any]], tuple[int, dict[str, Any]] | None]
"""(index, _id, document) -> (status, error object) to fail that item, or None to index it."""

BUILTIN_COMPONENT_TEMPLATES = ("logs@mappings", "logs@settings", "ecs@mappings")


@dataclass(slots=True)
class Fault:
    """A whole-request answer to give instead of processing a bulk request."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(slots=True)
class BulkRecord:
    """What one bulk request carried."""

    items: list[tuple[str, str | None]]
    """(index, _id) per item."""
    gzip: bool
    raw_bytes: int
    wire_bytes: int
    status: int
    item_statuses: list[int]
    authorization: str | None


@dataclass(slots=True)
class Recorded:
    """A non-bulk request (setup calls, Kibana)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


def error_body(kind: str, reason: str, status: int) -> dict[str, Any]:
    """An Elasticsearch error answer."""
    return {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }


class EsState:
    """The cluster's contents and the injected failures; every access holds `lock`."""

    def __init__(self, keep_sources: bool = True) -> None:
        self.lock = threading.RLock()
        self.keep_sources = keep_sources
        self.docs: dict[str, dict[str, bytes | None]] = {}
        self.data_streams: set[str] = set()
        self.mappings: dict[str, dict[str, str]] = {}
        self.component_templates: dict[str, Any] = {key: {} for key in BUILTIN_COMPONENT_TEMPLATES}
        self.index_templates: dict[str, Any] = {}
        self.ilm_policies: dict[str, Any] = {}
        self.data_views: dict[str, Any] = {}
        self.requests: list[Recorded] = []
        self.bulks: list[BulkRecord] = []
        self.item_fault: ItemFault | None = None
        self.request_faults: deque[Fault] = deque()
        self.max_content_length: int | None = None
        self.delay = 0.0
        self.credentials: set[str] | None = None
        self.root_forbidden = False
        """True: GET / answers 403, as for an API key that may only write documents."""
        self.product_header = True
        """False: answer like something that is not Elasticsearch (no X-Elastic-Product)."""
        """Accepted Authorization header values; None accepts anything."""
        self._auto_id = itertools.count()
        self._stream_cache: dict[str, bool] = {}
        self.scrolls: dict[Any, tuple[str, list[str], int]] = {}

    # --- views for tests ------------------------------------------------------------------

    def count(self, index: str | None = None) -> int:
        """Documents in one index (or data stream), or in all."""
        with self.lock:
            if index is not None:
                return len(self.docs.get(index, {}))
            return sum(len(d) for d in self.docs.values())

    def sources(self, index: str) -> dict[str, dict[str, Any]]:
        """_id -> document of one index (needs keep_sources)."""
        with self.lock:
            return {i: orjson.loads(s) for i, s in self.docs.get(index, {}).items() if s}

    def all_sources(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(index, _id, document) for every stored document."""
        with self.lock:
            return [
                (index, doc_id, orjson.loads(src))
                for index, docs in self.docs.items()
                for doc_id, src in docs.items()
                if src
            ]

    def bulk_item_ids(self) -> list[str | None]:
        """Every _id sent in any bulk request, in order (retries included)."""
        with self.lock:
            return [doc_id for b in self.bulks for _, doc_id in b.items]

    # --- bulk -----------------------------------------------------------------------------

    def bulk(self, body: bytes, default_index: str | None) -> tuple[dict[str, Any], list[Any]]:
        """Processes an NDJSON bulk body; returns the answer and the (index, id) of each item."""
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        results: list[dict[str, Any]] = []
        sent: list[tuple[str, str | None]] = []
        errors = False
        started = time.monotonic()
        i = 0
        with self.lock:
            while i < len(lines):
                try:
                    action = orjson.loads(lines[i])
                    ((op, meta),) = action.items()
                except (orjson.JSONDecodeError, ValueError, AttributeError):
                    raise _BadRequest(
                        "illegal_argument_exception",
                        f"Malformed action/metadata line [{i + 1}], expected START_OBJECT",
                    ) from None
                if op not in ("create", "index") or i + 1 >= len(lines):
                    raise _BadRequest(
                        "illegal_argument_exception",
                        f"Malformed action/metadata line [{i + 1}], unsupported action [{op}]",
                    )
                source = lines[i + 1]
                i += 2
                index = meta.get("_index") or default_index
                doc_id = meta.get("_id")
                sent.append((index, doc_id))
                status, error, doc_id = self._index_one(op, index, doc_id, source)
                item: dict[str, Any] = {"_index": index, "_id": doc_id, "status": status}
                if error is not None:
                    item["error"] = error
                    errors = True
                else:
                    item["result"] = "created"
                results.append({op: item})
        answer = {
            "errors": errors,
            "took": int((time.monotonic() - started) * 1000),
            "items": results,
        }
        return answer, sent

    def _index_one(
        self, op: str, index: str, doc_id: str | None, source: bytes
    ) -> tuple[int, dict[str, Any] | None, str | None]:
        if not self.keep_sources:
            # Benchmark mode: ids and conflicts only, so the stand-in costs less than the agent.
            docs = self.docs.setdefault(index, {})
            if doc_id is None:
                doc_id = f"auto{next(self._auto_id):012d}"
            elif op == "create" and doc_id in docs:
                return (
                    409,
                    _err("version_conflict_engine_exception", "document already exists"),
                    doc_id,
                )
            docs[doc_id] = None
            return 201, None, doc_id
        try:
            doc = orjson.loads(source)
        except orjson.JSONDecodeError as exc:
            return 400, _err("document_parsing_exception", f"[1:1] failed to parse: {exc}"), doc_id
        if self.item_fault is not None:
            fault = self.item_fault(index, doc_id, doc)
            if fault is not None:
                return fault[0], fault[1], doc_id
        if index != index.lower() or index.startswith(("_", "-", "+")):
            return (
                400,
                _err(
                    "invalid_index_name_exception",
                    f"Invalid index name [{index}], must be lowercase",
                ),
                doc_id,
            )
        stream = self._stream_cache.get(index)
        if stream is None:
            stream = _is_logs_stream(index, self.index_templates)
            self._stream_cache[index] = stream
        if stream:
            if op != "create":
                return (
                    400,
                    _err(
                        "illegal_argument_exception",
                        "only write ops with an op_type of create are allowed in data streams",
                    ),
                    doc_id,
                )
            if "@timestamp" not in doc:
                return (
                    400,
                    _err(
                        "document_parsing_exception",
                        "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing",
                    ),
                    doc_id,
                )
        docs = self.docs.setdefault(index, {})
        if doc_id is None:
            doc_id = f"auto{next(self._auto_id):012d}"
        elif op == "create" and doc_id in docs:
            return (
                409,
                _err(
                    "version_conflict_engine_exception",
                    f"[{doc_id}]: version conflict, document already exists (current version [1])",
                ),
                doc_id,
            )
        problem = _map(self.mappings.setdefault(index, {}), doc, "")
        if problem is not None:
            return (
                400,
                _err(
                    "document_parsing_exception", f"[1:2] {problem} in document with id '{doc_id}'"
                ),
                doc_id,
            )
        if stream:
            self.data_streams.add(index)
        docs[doc_id] = source if self.keep_sources else None
        return 201, None, doc_id


class _BadRequest(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _err(kind: str, reason: str) -> dict[str, Any]:
    return {"type": kind, "reason": reason, "index_uuid": "x1y2z3", "shard": "0"}


def _is_logs_stream(index: str, templates: dict[str, Any]) -> bool:
    """Whether writing to `index` makes a data stream: the best-matching index template says.

    Without an installed template matching it, Elasticsearch's built-in `logs-*-*` applies.
    """
    best: tuple[int, bool] | None = None
    for template in templates.values():
        patterns = (template or {}).get("index_patterns", [])
        if any(fnmatch.fnmatchcase(index, p) for p in patterns):
            priority = int(template.get("priority", 0))
            if best is None or priority > best[0]:
                best = (priority, "data_stream" in template)
    if best is not None:
        return best[1]
    return fnmatch.fnmatchcase(index, "logs-*-*")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "object"
    return "keyword"


def _map(mapping: dict[str, str], doc: dict[str, Any], prefix: str) -> str | None:
    """Dynamic mapping like Elasticsearch's: the first value fixes a field's type; conflicts fail."""
    for key, value in doc.items():
        path = f"{prefix}{key}"
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is None:
                continue
            kind = _kind(v)
            known = mapping.get(path)
            if known is None:
                mapping[path] = kind
                known = kind
            if known == "object" and kind != "object":
                return f"failed to parse field [{path}]: tried to parse field [{path}] as object, but found a concrete value"
            if known != "object" and kind == "object":
                return f"failed to parse field [{path}] of type [{known}]: can't parse an object into a {known} field"
            if known in ("long", "double") and kind == "keyword":
                try:
                    float(v)
                except ValueError:
                    return (
                        f"failed to parse field [{path}] of type [{known}]. "
                        f"Preview of field's value: '{v}'"
                    )
            if kind == "object":
                problem = _map(mapping, v, f"{path}.")
                if problem is not None:
                    return problem
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Like Elasticsearch (Netty): no Nagle delay between the headers and the body of an answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection was cut (`down`)
            super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else orjson.dumps(body)
        self.send_response(status)
        if self.server.state.product_header:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        wire = len(raw)
        gzipped = self.headers.get("Content-Encoding", "").lower() == "gzip"
        if gzipped:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError):
                self._send(400, error_body("parse_exception", "bad gzip body", 400))
                return
        auth = self.headers.get("Authorization")
        if state.credentials is not None and auth not in state.credentials:
            self._send(
                401,
                error_body(
                    "security_exception",
                    "unable to authenticate user [agent] for REST request [/_bulk]",
                    401,
                ),
                {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8", ApiKey'},
            )
            return
        parts = [p for p in path.split("/") if p]
        if parts and parts[-1] == "_bulk" and method in ("POST", "PUT"):
            self._bulk(raw, wire, gzipped, parts[0] if len(parts) == 2 else None, query, auth)
            return
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            self._send(400, error_body("parse_exception", "request body is not JSON", 400))
            return
        with state.lock:
            state.requests.append(Recorded(method, path, query, dict(self.headers.items()), body))
        self._route(method, parts, body)

    def _bulk(
        self,
        raw: bytes,
        wire: int,
        gzipped: bool,
        default_index: str | None,
        query: dict[str, list[str]],
        auth: str | None,
    ) -> None:
        state = self.server.state
        if state.delay:
            time.sleep(state.delay)
        with state.lock:
            fault = state.request_faults.popleft() if state.request_faults else None
            limit = state.max_content_length
        status = 200
        sent: list[Any] = []
        statuses: list[int] = []
        if fault is not None:
            status = fault.status
            answer: Any = fault.body or error_body(
                "fault", f"injected {fault.status}", fault.status
            )
            headers = fault.headers
        elif limit is not None and len(raw) > limit:
            status, headers = 413, {}
            answer = None  # Elasticsearch answers 413 with an empty body
        else:
            headers = {}
            try:
                answer, sent = state.bulk(raw, default_index)
            except _BadRequest as exc:
                status = 400
                answer = error_body(exc.kind, exc.reason, 400)
            else:
                statuses = [next(iter(i.values()))["status"] for i in answer["items"]]
                if "filter_path" in query:
                    answer = _filter(answer, query["filter_path"][0])
        with state.lock:
            state.bulks.append(BulkRecord(sent, gzipped, len(raw), wire, status, statuses, auth))
        self._send(status, answer, headers)

    def _page(self, index: str, ids: list[str], size: int) -> None:
        self._send(200, _scroll_page(self.server.state, index, ids, size))

    def _route(self, method: str, parts: list[str], body: Any) -> None:
        state = self.server.state
        if not parts and state.root_forbidden:
            self._send(
                403,
                error_body(
                    "security_exception", "action [cluster:monitor/main] is unauthorized", 403
                ),
            )
            return
        if not parts:
            self._send(
                200,
                {
                    "name": "fake-node",
                    "cluster_name": "logship-test",
                    "version": {"number": "8.15.0", "build_flavor": "default"},
                    "tagline": "You Know, for Search",
                },
            )
            return
        if parts[0] == "s" and len(parts) > 2:  # Kibana space prefix
            parts = parts[2:]
        key = "/".join(parts[:-1]) if len(parts) > 1 else ""
        name = parts[-1]
        stores = {
            "_ilm/policy": state.ilm_policies,
            "_component_template": state.component_templates,
            "_index_template": state.index_templates,
        }
        with state.lock:
            if key in stores:
                store = stores[key]
                if method == "PUT":
                    store[name] = body
                    state._stream_cache.clear()
                    self._send(200, {"acknowledged": True})
                elif name in store:
                    self._send(200, {name: store[name]})
                else:
                    self._send(
                        404, error_body("resource_not_found_exception", f"[{name}] not found", 404)
                    )
                return
            if parts == ["api", "data_views", "data_view"] and method == "POST":
                if "kbn-xsrf" not in {k.lower() for k in self.headers}:
                    self._send(
                        400,
                        {"statusCode": 400, "error": "Bad Request", "message": "missing kbn-xsrf"},
                    )
                    return
                view = (body or {}).get("data_view", {})
                state.data_views[view.get("id") or view.get("title")] = view
                self._send(200, {"data_view": view})
                return
            if name == "_search" and len(parts) == 2:
                ids = sorted(state.docs.get(parts[0], {}))
                self._page(parts[0], ids, int((body or {}).get("size", 10)))
                return
            if parts == ["_search", "scroll"]:
                index, ids, size = state.scrolls.pop((body or {}).get("scroll_id"), ("", [], 0))
                self._page(index, ids, size)
                return
            if method == "DELETE" and len(parts) == 1:
                found = state.docs.pop(parts[0], None)
                state.data_streams.discard(parts[0])
                self._send(200 if found is not None else 404, {"acknowledged": found is not None})
                return
            if name == "_refresh":
                self._send(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
                return
            if name == "_count":
                count = state.count(parts[0]) if len(parts) == 2 else state.count()
                self._send(200, {"count": count})
                return
        self._send(
            404, error_body("no_handler", f"no handler for {method} /{'/'.join(parts)}", 404)
        )


def _scroll_page(state: EsState, index: str, ids: list[str], size: int) -> dict[str, Any]:
    """One page of a scrolled search over ids (enough for `_source: false` searches)."""
    page, rest = ids[:size], ids[size:]
    scroll_id = f"scroll{next(state._auto_id)}"
    state.scrolls[scroll_id] = (index, rest, size)
    return {
        "_scroll_id": scroll_id,
        "hits": {"total": {"value": len(ids)}, "hits": [{"_index": index, "_id": i} for i in page]},
    }


def _filter(answer: dict[str, Any], filter_path: str) -> dict[str, Any]:
    """Enough of filter_path for `errors,items.*.error,items.*.status`."""
    wanted = set(filter_path.split(","))
    out: dict[str, Any] = {}
    if "errors" in wanted:
        out["errors"] = answer["errors"]
    keep = {p.removeprefix("items.*.") for p in wanted if p.startswith("items.*.")}
    if keep:
        out["items"] = [
            {op: {k: v for k, v in item.items() if k in keep}}
            for op, item in (next(iter(i.items())) for i in answer["items"])
        ]
    return out


class _Server(TrackedServer):
    def __init__(self, address: tuple[str, int], state: EsState) -> None:
        self.state = state
        super().__init__(address, _Handler)


class EsServer(KillableHttpServer):
    """The fake cluster on 127.0.0.1; `url` to configure the agent with, `state` to inspect and inject."""

    thread_name = "es-server"

    def __init__(
        self,
        port: int = 0,
        *,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        keep_sources: bool = True,
    ) -> None:
        super().__init__(port, certfile=certfile, keyfile=keyfile)
        self.state = EsState(keep_sources)

    def make_server(self, address: tuple[str, int]) -> TrackedServer:
        """A server answering from `state`."""
        return _Server(address, self.state)

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:9200."""
        return self.base_url


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A self-signed CA and a server certificate it signed, for 127.0.0.1 and localhost."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_test_ca(folder: Path) -> TlsFiles:
    """A CA and a server certificate for localhost / 127.0.0.1 signed by it, into `folder`."""
    from tests.certs import make_ca, make_server_cert

    ca = make_ca(folder, "ca")
    cert, key = make_server_cert(folder, ca, "server", ["localhost"], ["127.0.0.1"])
    return TlsFiles(ca.cert_file, cert, key)


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value for basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def main(argv: list[str] | None = None) -> int:
    """Serves until SIGTERM / SIGINT (for the benchmark, in its own process)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--no-sources",
        action="store_true",
        help="keep ids only; documents are not parsed or mapped (for the benchmark)",
    )
    args = parser.parse_args(argv)
    server = EsServer(args.port, keep_sources=not args.no_sources).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening {server.port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
