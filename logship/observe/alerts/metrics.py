"""The alerts' figures on /metrics, copied from the engine and the outboxes when scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from logship.observe.alerts.destination import Destination


class AlertCollector:
    """A prometheus-client collector: counters per rule and per destination.

    Nothing is counted on the log path beyond plain integers in the engine; this reads them.
    Delivery outcomes are the destination's sink metrics (`logship_sink_batches_total`,
    `logship_sink_records_total`, `logship_sink_request_seconds` with `sink="<destination>"`).
    """

    def __init__(
        self, counters: Callable[[], list[dict[str, Any]]], destinations: Sequence[Destination]
    ) -> None:
        self._counters = counters
        self._destinations = list(destinations)

    def collect(self) -> Iterator[Metric]:
        """The families, current values."""
        rules = self._counters()
        matches = CounterMetricFamily(
            "logship_alert_matches",
            "Records that matched an alert rule's condition.",
            labels=["rule"],
        )
        late = CounterMetricFamily(
            "logship_alert_late_records",
            "Matching records read too late to count in their window (older than the window "
            "plus 60 s when read).",
            labels=["rule"],
        )
        notes = CounterMetricFamily(
            "logship_alert_notifications",
            "Notifications emitted (queued for delivery), by status: firing, resolved.",
            labels=["rule", "status"],
        )
        groups = GaugeMetricFamily(
            "logship_alert_groups", "Groups (group_by value sets) held now.", labels=["rule"]
        )
        firing = GaugeMetricFamily(
            "logship_alert_groups_firing", "Groups firing now.", labels=["rule"]
        )
        evicted = CounterMetricFamily(
            "logship_alert_groups_evicted",
            "Groups dropped to stay within max_groups (the least recently matched first), and "
            "groups seen once dropped the same way (the oldest first).",
            labels=["rule"],
        )
        for r in rules:
            name = [r["rule"]]
            matches.add_metric(name, r["matches"])
            late.add_metric(name, r["late"])
            notes.add_metric([r["rule"], "firing"], r["firing"])
            notes.add_metric([r["rule"], "resolved"], r["resolved"])
            groups.add_metric(name, r["groups"])
            firing.add_metric(name, r["groups_firing"])
            evicted.add_metric(name, r["evicted"])
        dropped = CounterMetricFamily(
            "logship_alert_queue_dropped",
            "Notifications dropped because the destination's queue was full (the oldest go).",
            labels=["destination"],
        )
        queued = GaugeMetricFamily(
            "logship_alert_queue_notifications",
            "Notifications waiting for delivery.",
            labels=["destination"],
        )
        for d in self._destinations:
            dropped.add_metric([d.name], d.outbox.dropped)
            queued.add_metric([d.name], d.outbox.events)
        yield from (matches, late, notes, groups, firing, evicted, dropped, queued)

    def describe(self) -> Iterator[Metric]:
        """The families' names (for registry name checks), without reading anything."""
        for family in self.collect():
            family.samples = []
            yield family
