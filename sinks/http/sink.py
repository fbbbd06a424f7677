"""HttpSink: a batch becomes one request (or one per record with `encoding: json`)."""

from __future__ import annotations

from functools import partial

from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import DELIVERED, Outcome, SendResult, SinkError
from sinks.http.classify import WebhookRetryLogic
from sinks.http.client import HttpClient
from sinks.http.config import HttpSinkSettings
from sinks.http.encoder import CONTENT_TYPES, bodies, compress
from sinks.transport.retry import attempt


class HttpSink:
    """POSTs records as JSON; the answer's status decides deliver / retry / reject (`classify`)."""

    takes_ndjson = True
    """Only the records' JSON text is sent: the tailer may hand over encoded batches."""

    # Sink protocol members it has nothing to say for (logship.core.sink).
    ready = True
    last_error = ""
    output_path: str | None = None

    @property
    def request_timeout(self) -> float:
        """Its `request_timeout` setting."""
        return self.settings.request_timeout

    def bind_metrics(self, metrics: Metrics) -> None:
        """Keeps no metrics of its own."""

    def __init__(self, settings: HttpSinkSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.client = HttpClient(settings)
        self.retry_logic = WebhookRetryLogic(self.client.endpoint)
        self.headers = {"Content-Type": CONTENT_TYPES[settings.encoding]}
        if settings.compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"

    def healthcheck(self) -> None:
        """Nothing is sent at start (a webhook has no harmless request); the URL was checked
        when the config loaded. An unreachable endpoint is retried by `send`."""
        if not self.client.url:
            raise SinkError("url is empty; set it to the endpoint's URL")

    def send(self, batch: Batch) -> SendResult:
        """Sends the batch; with `encoding: json` one request per record, a failure retrying
        only the records not yet accepted."""
        parts = bodies(batch.lines(), self.settings.encoding)
        rejected: list[tuple[int, str]] = []
        for index, body in enumerate(parts):
            payload = compress(body, self.settings.compression)
            result = attempt(partial(self.client.post, payload, self.headers), self.retry_logic)
            if result.outcome is Outcome.DELIVERED:
                continue
            if len(parts) == 1:
                return result
            if result.outcome is Outcome.REJECTED:
                rejected.append((index, result.reason))
                continue
            return SendResult(
                Outcome.RETRY,
                reason=result.reason,
                retry_only=list(range(index, len(parts))),
                rejected=rejected,
                retry_after=result.retry_after,
            )
        return SendResult(Outcome.DELIVERED, rejected=rejected) if rejected else DELIVERED

    def close(self, timeout: float) -> None:
        """Closes the connections."""
        self.client.close()
