"""The contract between the pipeline and a sink: what `send` returns and the settings every sink shares."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field

from logship.core.batch import Batch
from logship.core.errors import LogshipError
from logship.core.metrics import Metrics
from logship.core.schema import StrictModel
from logship.core.units import ByteSize, Duration, Milliseconds


class Outcome(enum.Enum):
    """How a send ended."""

    DELIVERED = "delivered"
    """Durably accepted (entries listed in `rejected` excepted): ack."""
    RETRY = "retry"
    """Transient failure: back off and resend (only `retry_only` when set); never ack meanwhile."""
    REJECTED = "rejected"
    """Permanent failure of the whole batch: dead-letter every entry, then ack."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """The result of one `Sink.send`.

    `rejected` lists entries refused for good (index into the batch, reason): they go to the
    dead-letter file whatever the outcome. With RETRY, `retry_only` narrows the resend to those
    indices (the others were delivered or rejected); empty means resend everything.
    """

    outcome: Outcome
    reason: str = ""
    retry_only: Sequence[int] = ()
    rejected: Sequence[tuple[int, str]] = ()
    retry_after: float | None = None


DELIVERED = SendResult(Outcome.DELIVERED)


class SinkError(LogshipError):
    """A sink cannot work with its configuration or target (raised by `healthcheck`); says what to do."""


class Sink(Protocol):
    """Something that durably accepts batches of entries. Knows nothing about files or offsets.

    Every member the runtime uses is declared here; a sink with nothing to say for one has a
    constant (`ready = True`, `request_timeout = 0.0`, `output_path = None`, ...).
    """

    name: str

    @property
    def takes_ndjson(self) -> bool:
        """True if it only needs the records' JSON text: when every sink of an input says so,
        the tailer encodes each chunk right after parsing and the batches arrive encoded
        (`batch.parts`, see `logship.core.batch`). Otherwise it gets dicts in `batch.entries`."""

    @property
    def ready(self) -> bool:
        """False while its target is known not to answer (/readyz says not ready)."""

    @property
    def last_error(self) -> str:
        """Why it is not ready, or "" (shown by /readyz)."""

    @property
    def request_timeout(self) -> float:
        """The longest one send may legitimately wait on its target, in seconds (0 when it
        does not wait on a network): health allows it before it calls a worker wedged."""

    @property
    def output_path(self) -> str | None:
        """The local file it writes, if any: the agent never tails its own output."""

    def bind_metrics(self, metrics: Metrics) -> None:
        """Gets the agent's metrics once, before the first send (most sinks keep none)."""

    def healthcheck(self) -> None:
        """Checks the target at start-up; raises SinkError with a suggestion when it cannot work.

        A target that is merely unreachable right now (a broker down) should be logged and
        retried by `send`, not raised: the agent keeps running and reports not-ready.
        """

    def send(self, batch: Batch) -> SendResult:
        """Delivers every entry of `batch` or says which to retry / reject. Must not raise for I/O."""

    def close(self, timeout: float) -> None:
        """Flushes and releases resources, waiting at most `timeout` seconds."""


class BatchSettings(StrictModel):
    """How a sink worker groups entries into one send."""

    max_events: int = Field(2048, ge=1)
    max_bytes: ByteSize = Field(4 * 1024 * 1024, ge=1)
    linger_ms: Milliseconds = Field(200.0, ge=0)
    """How long a take waits for the batch to fill: `200` (milliseconds) or a duration (`0.2s`)."""

    @property
    def linger(self) -> float:
        """`linger_ms` in seconds, like every other duration."""
        return self.linger_ms / 1000.0


class QueueSettings(StrictModel):
    """Bounds of the queue in front of a sink; when full the tailer stops reading (backpressure).

    Small on purpose: the log file is the real buffer, and every entry held in memory costs
    cache misses on the hot path (measured: parse cost per line grows ~45% between 2,000 and
    20,000 entries held) as well as RSS (92 MiB peak with 20,000, 58 MiB with 4,096).
    """

    max_events: int = Field(4096, ge=1)
    max_bytes: ByteSize = Field(8 * 1024 * 1024, ge=1)


class RetrySettings(StrictModel):
    """Exponential backoff with full jitter between resends of a failed batch."""

    initial_backoff: Duration = 0.1
    max_backoff: Duration = 30.0


class SpoolSettings(StrictModel):
    """`sinks[].spool`: a disk spool that takes the sink's records while it lags
    (`logship.deliver.spool`); off unless set."""

    max_bytes: ByteSize = Field(
        1024 * 1024 * 1024, ge=1024 * 1024, json_schema_extra={"expected": "a size >= 1MiB"}
    )
    """The spool folder never grows beyond this (segments and state file included)."""
    when_full: Literal["block", "drop_oldest"] = "block"
    """block: that sink's lines wait on the log file (backpressure); drop_oldest: the oldest
    segment is deleted, and its records counted."""


class SinkSettings(StrictModel):
    """Settings every sink type shares; each sink type extends it with a `type` literal."""

    name: str = Field(min_length=1)
    batch: BatchSettings = BatchSettings()
    queue: QueueSettings = QueueSettings()
    retry: RetrySettings = RetrySettings()
    when: dict[str, Any] | None = Field(
        None, json_schema_extra={"expected": "a condition, like {field: log.level, in: [error]}"}
    )
    """Only records for which this condition holds go to the sink (the language of `drop_if`,
    checked by the app's config: core cannot import parsers)."""
    spool: SpoolSettings | None = None
