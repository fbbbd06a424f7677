"""The HTTP client of the sink and of `setup`: elastic-transport configured from the sink's settings.

Requests carry plain `application/json` / `application/x-ndjson` content types, which every
Elasticsearch from 7.x to 9.x accepts (the official client pins a `compatible-with` version).
Bulk bodies arrive here already encoded and gzip-compressed: the transport passes them through.
The transport never retries: the sink worker owns retries and backoff.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from elastic_transport import (
    NodeConfig,
    Serializer,
    TextSerializer,
    Transport,
    TransportError,
)
from elastic_transport.client_utils import parse_cloud_id, url_to_node_config

from logship import __version__
from sinks.elasticsearch.config import (
    ElasticsearchSinkSettings,
    ElasticsearchTlsSettings,
)
from sinks.transport.answer import Answer
from sinks.transport.auth import auth_headers
from sinks.transport.errors import Unreachable

log = logging.getLogger(__name__)
# The transport logs every non-2xx answer as a node failure; the sink logs what it means instead.
logging.getLogger("elastic_transport").setLevel(logging.ERROR)

PRODUCT_HEADER = "x-elastic-product"


class _RawJson(Serializer):
    """Answers stay bytes here; `Client.request` decodes them, or not (a clean bulk answer)."""

    mimetype: ClassVar[str] = "application/json"

    def dumps(self, data: Any) -> bytes:
        return data if isinstance(data, bytes) else orjson.dumps(data)

    def loads(self, data: bytes) -> Any:
        return data


class _PassThroughNdjson(Serializer):
    """Bulk bodies are encoded (and maybe compressed) by the sink: send the bytes as they are."""

    mimetype: ClassVar[str] = "application/x-ndjson"

    def dumps(self, data: Any) -> bytes:
        if not isinstance(data, bytes):
            raise TypeError("bulk bodies are pre-encoded bytes")
        return data

    def loads(self, data: bytes) -> Any:
        return [orjson.loads(line) for line in data.splitlines() if line]


def node_configs(
    settings: ElasticsearchSinkSettings, urls: list[str] | None = None
) -> list[NodeConfig]:
    """Node configs for the sink's hosts (or cloud_id), or for `urls` (Kibana) with the same auth/TLS."""
    headers = {"user-agent": f"logship/{__version__}", **auth_headers(settings.auth)}
    if urls is None and settings.cloud_id is not None:
        cloud = parse_cloud_id(settings.cloud_id)
        if cloud.es_address is None:
            raise ValueError("cloud_id has no Elasticsearch address")
        host, port = cloud.es_address
        base = [NodeConfig(scheme="https", host=host, port=port)]
    else:
        base = [
            url_to_node_config(url, use_default_ports_for_scheme=True)
            for url in (urls if urls is not None else settings.hosts)
        ]
    tls = _tls_options(settings.tls)
    return [
        node.replace(
            headers={**node.headers, **headers},
            request_timeout=settings.request_timeout,
            connections_per_node=2,
            **(tls if node.scheme == "https" else {}),
        )
        for node in base
    ]


def _tls_options(tls: ElasticsearchTlsSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"verify_certs": tls.verify, "ssl_show_warn": False}
    if tls.ca_file is not None:
        options["ca_certs"] = str(tls.ca_file)
    if tls.ca_fingerprint is not None:
        options["ssl_assert_fingerprint"] = tls.ca_fingerprint.replace(":", "").lower()
    if tls.client_cert is not None and tls.client_key is not None:
        options["client_cert"] = str(tls.client_cert)
        options["client_key"] = str(tls.client_key)
    return options


class Client:
    """Sends requests to a cluster (or Kibana) and returns `Answer`s; raises `Unreachable` when none came."""

    def __init__(self, nodes: list[NodeConfig]) -> None:
        self.nodes = nodes
        self.transport = Transport(
            nodes,
            serializers={
                "application/json": _RawJson(),
                "application/x-ndjson": _PassThroughNdjson(),
                "text/plain": TextSerializer(),
            },
            # A connection failure moves on to the next node; anything else is the sink's call.
            max_retries=len(nodes) - 1,
            retry_on_status=(),
            retry_on_timeout=False,
            meta_header=False,
        )

    @property
    def description(self) -> str:
        """The node URLs, for messages (without credentials)."""
        return ", ".join(f"{n.scheme}://{n.host}:{n.port}{n.path_prefix}" for n in self.nodes)

    def request(
        self,
        method: str,
        target: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> Answer:
        """One request; JSON bodies are serialized here, bytes (bulk) are sent as they are.

        The answer's body is decoded JSON (text when it is not JSON), or with `raw` the JSON
        bytes as they came, for the caller to decode only if it needs to.
        """
        request_headers = {"accept": "application/json", **(headers or {})}
        if body is not None and "content-type" not in request_headers:
            request_headers["content-type"] = "application/json"
        try:
            response = self.transport.perform_request(
                method, target, body=body, headers=request_headers
            )
        except TransportError as exc:
            _clear_frames(exc)
            raise Unreachable(_describe_transport_error(exc)) from None
        except Exception as exc:  # a body that is not what its content type says, ...
            _clear_frames(exc)
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        meta = response.meta
        body = response.body
        if isinstance(body, bytes) and not raw:
            body = _decode(body)
        return Answer(status=meta.status, body=body, headers=meta.headers)

    def close(self) -> None:
        """Closes the connections."""
        self.transport.close()


def _clear_frames(exc: BaseException) -> None:
    """Clears the locals of the finished frames an error's tracebacks hold (and its causes').

    elastic-transport keeps the error it raises in a local of the frame raising it: a reference
    cycle through the traceback that keeps that frame, the request body and the frames of
    every caller (the batch being sent) alive until the cyclic garbage collector runs, which
    the agent makes rare (logship.core.process.tune_gc). While a cluster is down every failed
    attempt would hold on to another batch.
    """
    seen: set[int] = set()
    pending = [exc]
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if error.__traceback__ is not None:
            traceback.clear_frames(error.__traceback__)  # skips frames still running
        pending += [e for e in (error.__cause__, error.__context__) if e is not None]
        pending += [e for e in getattr(error, "errors", ()) if isinstance(e, BaseException)]


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


def _describe_transport_error(exc: TransportError) -> str:
    cause = exc.errors[0] if exc.errors else None
    detail = str(cause) if cause is not None else str(exc.message)
    return f"{type(exc).__name__}: {detail}"
