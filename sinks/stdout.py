"""The stdout sink: NDJSON on standard output, for debugging and for pipes."""

from __future__ import annotations

import sys
from typing import Literal

from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import DELIVERED, Outcome, SendResult, SinkSettings


class StdoutSinkSettings(SinkSettings):
    """`type: stdout`: NDJSON lines on standard output."""

    type: Literal["stdout"]


class StdoutSink:
    """Writes each batch to stdout and flushes it."""

    takes_ndjson = True
    """Only the records' JSON text is written: the tailer may hand over encoded batches."""

    # Sink protocol members it has nothing to say for (logship.core.sink).
    ready = True
    last_error = ""
    request_timeout = 0.0
    output_path: str | None = None

    def bind_metrics(self, metrics: Metrics) -> None:
        """Keeps no metrics of its own."""

    def __init__(self, settings: StdoutSinkSettings) -> None:
        self.name = settings.name

    def healthcheck(self) -> None:
        """Nothing to check: stdout is always there."""

    def send(self, batch: Batch) -> SendResult:
        """Writes and flushes; a closed pipe is retried (the reader may come back)."""
        try:
            for part in batch.payload_parts():
                sys.stdout.buffer.write(part)
            sys.stdout.buffer.flush()
        except OSError as exc:
            return SendResult(Outcome.RETRY, reason=f"cannot write to stdout: {exc.strerror}")
        return DELIVERED

    def close(self, timeout: float) -> None:
        """Flushes stdout."""
        try:
            sys.stdout.buffer.flush()
        except OSError:
            pass
