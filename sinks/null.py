"""The null sink: accepts every batch and discards it, for benchmarks and dry runs.

`file -> null` measures what the agent costs before any output (tailing, framing, parsing,
queueing, acknowledging): the floor under every other sink. Batches are acknowledged at once,
so checkpoints advance as if the records had been delivered.
"""

from __future__ import annotations

from typing import Literal

from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import DELIVERED, SendResult, SinkSettings


class NullSinkSettings(SinkSettings):
    """`type: null`: records are dropped on purpose and acknowledged."""

    type: Literal["null"]
    encode: bool = False
    """Serialise each batch to NDJSON before dropping it, to include the encoding cost."""


class NullSink:
    """Discards batches; counts what it discarded (reported when it closes)."""

    # Sink protocol members it has nothing to say for (logship.core.sink).
    ready = True
    last_error = ""
    request_timeout = 0.0
    output_path: str | None = None

    def bind_metrics(self, metrics: Metrics) -> None:
        """Keeps no metrics of its own."""

    def __init__(self, settings: NullSinkSettings) -> None:
        self.name = settings.name
        self._encode = settings.encode
        self.takes_ndjson = settings.encode
        """With `encode: true` the tailer encodes, as it does for a file sink."""
        self.events = 0
        self.encoded_bytes = 0

    def healthcheck(self) -> None:
        """Nothing to check."""

    def send(self, batch: Batch) -> SendResult:
        """Counts the batch (and encodes it when asked), then reports it delivered."""
        self.events += len(batch)
        if self._encode:
            self.encoded_bytes += sum(map(len, batch.payload_parts()))
        return DELIVERED

    def close(self, timeout: float) -> None:
        """Nothing to flush."""
