"""What sinks need of the agent's metrics: a protocol that `logship.core.metrics.Metrics` satisfies.

Sinks count through it without importing the agent's metrics module (sinks import only the
shared contract).
"""

from __future__ import annotations

from typing import Protocol


class Counter(Protocol):
    """One labelled child of a counter."""

    def inc(self, amount: float = 1) -> None:
        """Adds `amount`."""
        ...


class LabelledCounter(Protocol):
    """A counter family with labels (a prometheus_client Counter)."""

    def labels(self, *values: str) -> Counter:
        """The child for these label values."""
        ...


class SinkMetrics(Protocol):
    """The metric families a sink may count in (given through `bind_metrics`)."""

    @property
    def sink_buffer_full(self) -> LabelledCounter:
        """`logship_sink_buffer_full_waits{sink}`: a send waited for room in a client buffer."""
        ...
