"""The Elasticsearch sink: a batch becomes `_bulk` requests; the answer is classified per item.

Flow of one `send`: encode every record (`encoder`), cut the items into requests of at most
`max_request_bytes`, gzip and POST each, classify the answer (`classify`), and fold the verdicts
into one SendResult whose indices point into the batch. A 413 halves the request (and the size
cap, for the rest of the process) until it fits; a single document too large is rejected.
"""

from __future__ import annotations

import gzip
import logging
import threading
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import Outcome, SendResult, SinkError
from sinks.elasticsearch.classify import BulkRetryLogic, BulkVerdict
from sinks.elasticsearch.client import PRODUCT_HEADER, Client, node_configs
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.encoder import BulkItems, Target, encode_bulk
from sinks.transport.errors import Unreachable
from sinks.transport.retry import attempt

log = logging.getLogger(__name__)

PROBE_INTERVAL = 10.0
"""Seconds between reachability probes while the cluster is down and nothing is being sent."""

_MIN_REQUEST_BYTES = 64 * 1024


@dataclass(slots=True)
class BulkStats:
    """What the sink has sent so far: request count and sizes (for the benchmark and the close log)."""

    requests: int = 0
    items: int = 0
    body_bytes: int = 0
    """Uncompressed NDJSON bytes."""
    sent_bytes: int = 0
    """Bytes on the wire (after gzip)."""
    max_items: int = 0
    max_body_bytes: int = 0


@dataclass(slots=True)
class _Partial:
    """Item numbers of one or more requests that must be retried or were rejected."""

    retry: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    reason: str = ""
    retry_after: float | None = None
    stop: bool = False
    """The whole request failed: do not send the rest of the batch now."""

    def merge(self, other: _Partial) -> None:
        self.retry += other.retry
        self.rejected += other.rejected
        if other.reason and not self.reason:
            self.reason = other.reason
        if other.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, other.retry_after)
        self.stop = self.stop or other.stop


class ElasticsearchSink:
    """Bulk-indexes batches into data streams or indices; see the module docstring."""

    # Sink protocol members (logship.core.sink); `ready` and `last_error` are below.
    takes_ndjson = False
    output_path: str | None = None

    @property
    def request_timeout(self) -> float:
        """Its `request_timeout` setting."""
        return self.settings.request_timeout

    def bind_metrics(self, metrics: Metrics) -> None:
        """Keeps no metrics of its own."""

    def __init__(self, settings: ElasticsearchSinkSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.target = Target.from_settings(settings)
        self.client = Client(node_configs(settings))
        params = "filter_path=errors,items.*.error,items.*.status"
        if settings.pipeline:
            params += f"&pipeline={quote(settings.pipeline, safe='')}"
        self._bulk_target = f"/_bulk?{params}"
        self._headers = {"content-type": "application/x-ndjson"}
        if settings.compression_level:
            self._headers["content-encoding"] = "gzip"
        self.max_request_bytes = settings.max_request_bytes
        self.stats = BulkStats()
        self._state: Literal["unknown", "ready", "unreachable", "auth"] = "unknown"
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()
        self.last_error = ""
        if not settings.tls.verify:
            log.warning(
                "TLS certificate verification is disabled: the connection is encrypted but anyone "
                "in the middle can read and change it. Set tls.ca_file instead.",
                extra={"sink": self.name, "hosts": self.client.description},
            )

    @property
    def ready(self) -> bool:
        """True once the cluster answered and accepts our writes; False while unreachable or refusing the credentials."""
        return self._state == "ready"

    def healthcheck(self) -> None:
        """Checks that the target is Elasticsearch; only logs when it is unreachable or refuses us."""
        try:
            answer = self.client.request("GET", "/")
        except Unreachable as exc:
            self._set_state("unreachable", str(exc))
            log.warning(
                "Elasticsearch is not reachable; starting anyway, records wait until it is.",
                extra={"sink": self.name, "hosts": self.client.description, "error": str(exc)},
            )
            self._start_probing()
            return
        if answer.status == 401:
            self._auth_failed(f"Elasticsearch answered 401 to GET /: {answer.body}")
            return
        if not 200 <= answer.status < 300:
            # 403 is normal for a key that may only write documents (no `monitor` privilege):
            # the cluster answered, so it is reachable; bulk requests will tell the rest.
            self._set_state("ready", "")
            log.info(
                "Could not read the Elasticsearch version; bulk requests will tell.",
                extra={"sink": self.name, "status": answer.status},
            )
            return
        body = answer.body if isinstance(answer.body, dict) else {}
        version = str(body.get("version", {}).get("number", ""))
        if answer.header(PRODUCT_HEADER) != "Elasticsearch":
            raise SinkError(
                f"{self.client.description} answered without the header X-Elastic-Product: "
                f"Elasticsearch; point hosts at an Elasticsearch node (or a proxy that keeps the header)"
            )
        major = int(version.split(".", maxsplit=1)[0]) if version[:1].isdigit() else 0
        if major and major < 8 and self.target.data_stream is not None:
            raise SinkError(
                f"Elasticsearch {version} is too old for data streams with the logs-*-* template; "
                f"use Elasticsearch 8 or later, or set index: to write to indices"
            )
        self._set_state("ready", "")
        log.info(
            "Connected to Elasticsearch.",
            extra={
                "sink": self.name,
                "version": version,
                "cluster": body.get("cluster_name"),
                "target": self.settings.data_stream or self.settings.index,
            },
        )

    def send(self, batch: Batch) -> SendResult:
        """Indexes the batch; RETRY names only the items that failed for now, rejected ones carry the reason."""
        encoded = encode_bulk(batch.entries, self.target)
        total = _Partial()
        for numbers in self._requests(encoded):
            if total.stop:
                total.retry += numbers
                continue
            total.merge(self._send_items(encoded, numbers))
        positions = encoded.positions
        rejected = encoded.rejected + [(positions[n], reason) for n, reason in total.rejected]
        if not total.retry:
            return SendResult(Outcome.DELIVERED, rejected=rejected)
        retry = sorted(positions[n] for n in total.retry)
        return SendResult(
            Outcome.RETRY,
            reason=total.reason,
            retry_only=() if len(retry) == len(batch) else retry,
            rejected=rejected,
            retry_after=total.retry_after,
        )

    def _requests(self, encoded: BulkItems) -> list[list[int]]:
        """Item numbers per request, each body at most `max_request_bytes` (one item may exceed it)."""
        cap = self.max_request_bytes
        if sum(map(len, encoded.items)) <= cap:
            return [list(range(len(encoded.items)))] if encoded.items else []
        requests: list[list[int]] = []
        current: list[int] = []
        size = 0
        for number, item in enumerate(encoded.items):
            if current and size + len(item) > cap:
                requests.append(current)
                current, size = [], 0
            current.append(number)
            size += len(item)
        if current:
            requests.append(current)
        return requests

    def _send_items(self, encoded: BulkItems, numbers: list[int]) -> _Partial:
        everything = len(numbers) == len(encoded.items)
        body = encoded.body(None if everything else numbers)
        indices = encoded.indices if everything else [encoded.indices[n] for n in numbers]
        verdict = self._bulk(body, indices)
        if verdict.split:
            if len(numbers) == 1:
                reason = (
                    f"{indices[0]}: 413: the document ({len(body)} bytes with its action line) is "
                    f"larger than Elasticsearch accepts (http.max_content_length, or a proxy's limit)"
                )
                return _Partial(rejected=[(numbers[0], reason)])
            self._shrink(len(body))
            half = len(numbers) // 2
            first = self._send_items(encoded, numbers[:half])
            if first.stop:
                first.retry += numbers[half:]
                return first
            first.merge(self._send_items(encoded, numbers[half:]))
            return first
        result = verdict.result
        if result.outcome is Outcome.REJECTED:
            return _Partial(rejected=[(n, result.reason) for n in numbers])
        partial = _Partial(rejected=[(numbers[i], reason) for i, reason in result.rejected])
        if result.outcome is Outcome.RETRY:
            partial.reason = result.reason
            partial.retry_after = result.retry_after
            if result.retry_only:
                partial.retry = [numbers[i] for i in result.retry_only]
            else:
                partial.retry = list(numbers)
                partial.stop = True
        return partial

    def _bulk(self, body: bytes, indices: list[str]) -> BulkVerdict:
        payload = (
            gzip.compress(body, compresslevel=self.settings.compression_level, mtime=0)
            if self.settings.compression_level
            else body
        )
        stats = self.stats
        stats.requests += 1
        stats.items += len(indices)
        stats.body_bytes += len(body)
        stats.sent_bytes += len(payload)
        stats.max_items = max(stats.max_items, len(indices))
        stats.max_body_bytes = max(stats.max_body_bytes, len(body))
        logic = BulkRetryLogic(indices, self.target.ids, self.settings.auth_retry_interval)
        verdict = attempt(
            lambda: self.client.request(
                "POST", self._bulk_target, body=payload, headers=self._headers, raw=True
            ),
            logic,
        )
        if verdict.auth_failed:
            self._auth_failed(verdict.result.reason)
        elif verdict.cluster_ok:
            self._set_state("ready", "")
        else:
            self._set_state("unreachable", verdict.result.reason)
        return verdict

    def _shrink(self, failed_bytes: int) -> None:
        cap = max(_MIN_REQUEST_BYTES, failed_bytes // 2)
        if cap < self.max_request_bytes:
            self.max_request_bytes = cap
            log.warning(
                "Elasticsearch refused a bulk request as too large (413); sending smaller requests "
                "from now on. Raise http.max_content_length (or the proxy's limit) or lower "
                "max_request_bytes.",
                extra={"sink": self.name, "refused_bytes": failed_bytes, "max_request_bytes": cap},
            )

    def _auth_failed(self, reason: str) -> None:
        self._set_state("auth", reason)
        log.error(
            "Elasticsearch refused the agent's credentials; nothing is indexed until this is fixed. "
            "Retrying slowly.",
            extra={
                "sink": self.name,
                "hosts": self.client.description,
                "reason": reason,
                "retry_in_s": self.settings.auth_retry_interval,
            },
        )

    def _start_probing(self) -> None:
        """While idle and unreachable, asks the cluster every PROBE_INTERVAL s, so that an agent
        with nothing to send still turns ready once Elasticsearch is up (rolling updates wait
        for readiness)."""
        if self._prober is not None and self._prober.is_alive():
            return

        def probe() -> None:
            while self._state == "unreachable" and not self._closed.wait(PROBE_INTERVAL):
                try:
                    answer = self.client.request("GET", "/")
                except Unreachable:
                    continue
                if self._state == "unreachable":
                    if answer.status == 401:
                        self._auth_failed(f"Elasticsearch answered 401 to GET /: {answer.body}")
                    else:
                        self._set_state("ready", "")
                        log.info("Elasticsearch is reachable now.", extra={"sink": self.name})

        self._prober = threading.Thread(target=probe, name=f"probe-{self.name}", daemon=True)
        self._prober.start()

    def _set_state(
        self, state: Literal["unknown", "ready", "unreachable", "auth"], error: str
    ) -> None:
        self._state = state
        if error:
            self.last_error = error

    def close(self, timeout: float) -> None:
        """Logs what was sent and closes the connections (nothing is buffered here)."""
        self._closed.set()
        s = self.stats
        log.info(
            "Elasticsearch sink closed.",
            extra={
                "sink": self.name,
                "requests": s.requests,
                "items": s.items,
                "body_bytes": s.body_bytes,
                "sent_bytes": s.sent_bytes,
                "max_items_per_request": s.max_items,
                "max_body_bytes": s.max_body_bytes,
            },
        )
        self.client.close()
