"""The agent's own metrics (prometheus-client), one registry per agent so tests stay independent.

Counters are incremented per chunk or per batch with the count, never per line. Values that
are cheaper to compute when scraped (lag, sink readiness) come from `logship.observe.live_metrics`, and
log-derived metrics from `logship.observe.derived_metrics`; docs/metrics.md lists them all.
"""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.metrics import MetricWrapperBase

from logship import __version__


class Metrics:
    """Every metric the agent exposes. Label names: `input`, `rule`, `sink`, `outcome`, `reason`."""

    def __init__(self) -> None:
        # `*_created` series double the exposition and tell nothing a restart counter does not.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.lines_read = Counter(
            "logship_input_lines", "Lines read from files.", ["input"], registry=r
        )
        self.bytes_read = Counter(
            "logship_input_bytes", "Bytes read from files.", ["input"], registry=r
        )
        self.lines_truncated = Counter(
            "logship_input_lines_truncated",
            "Lines longer than max_line_bytes, shipped truncated.",
            ["input"],
            registry=r,
        )
        self.bytes_truncated = Counter(
            "logship_input_bytes_truncated",
            "Bytes cut off lines longer than max_line_bytes (and joined container lines longer "
            "than it): read but not shipped.",
            ["input"],
            registry=r,
        )
        self.partial_lines_flushed = Counter(
            "logship_input_partial_lines_flushed",
            "Last lines without a newline shipped after partial_line_timeout.",
            ["input"],
            registry=r,
        )
        self.records_parsed = Counter(
            "logship_parser_records",
            "Records by the rule that matched them ('' = no rule matched).",
            ["input", "rule"],
            registry=r,
        )
        self.records_unmatched = Counter(
            "logship_parser_unmatched",
            "Lines no rule matched, shipped raw with tags: [parse_failure].",
            ["input"],
            registry=r,
        )
        self.parse_errors = Counter(
            "logship_parser_field_errors",
            "Field conversions or timestamps that failed; the raw value is kept and tagged.",
            ["input", "rule", "reason"],
            registry=r,
        )
        self.files_open = Gauge("logship_files_open", "Files currently open.", registry=r)
        self.file_errors = Counter(
            "logship_file_errors",
            "Files that could not be opened or read (retried later).",
            ["input"],
            registry=r,
        )
        self.truncations = Counter(
            "logship_file_truncations",
            "Files that shrank below the read offset (copytruncate); read again from 0.",
            ["input"],
            registry=r,
        )
        self.symlinks_skipped = Counter(
            "logship_file_symlinks_skipped",
            "Symlinks not followed because they lead out of the input's folders "
            "(see follow_symlinks); each counted once while it stays.",
            ["input"],
            registry=r,
        )
        self.file_wakeups = Counter(
            "logship_file_wakeups",
            "Quiet files read at once because a write woke them (inotify), not at their poll.",
            ["input"],
            registry=r,
        )
        self.files_watched = Gauge(
            "logship_files_watched",
            "Quiet open files watched (inotify, one-shot) for their next write.",
            registry=r,
        )
        self.file_watch_failures = Counter(
            "logship_file_watch_failures",
            "Watches on quiet files that could not be added (inotify limits); those files "
            "are found by polling.",
            registry=r,
        )
        self.rotations = Counter(
            "logship_file_rotations",
            "Files seen under a new name (rotated by rename); read on under their new name.",
            ["input"],
            registry=r,
        )
        self.queue_events = Gauge(
            "logship_queue_events", "Entries waiting in a sink's queue.", ["sink"], registry=r
        )
        self.queue_bytes = Gauge(
            "logship_queue_bytes", "Input bytes waiting in a sink's queue.", ["sink"], registry=r
        )
        self.spool_records_written = Counter(
            "logship_spool_records_written",
            "Records written to a sink's disk spool (the sink lagged).",
            ["sink"],
            registry=r,
        )
        self.spool_records_dropped = Counter(
            "logship_spool_records_dropped",
            "Spooled records lost: reason=full (when_full: drop_oldest) or corrupt (a frame "
            "that no longer checks out, cut off with the rest of its segment).",
            ["sink", "reason"],
            registry=r,
        )
        self.spool_corrupt_bytes = Counter(
            "logship_spool_corrupt_bytes",
            "Bytes of torn or corrupt spool frames cut off when the spool was opened.",
            ["sink"],
            registry=r,
        )
        self.records_unrouted = Counter(
            "logship_input_records_unrouted",
            "Records that no sink's `when` accepted (still checkpointed).",
            ["input"],
            registry=r,
        )
        self.sink_batches = Counter(
            "logship_sink_batches",
            "Batches sent, by outcome (delivered, retry, rejected).",
            ["sink", "outcome"],
            registry=r,
        )
        self.sink_records = Counter(
            "logship_sink_records",
            "Records by outcome (delivered, retried, dead_lettered).",
            ["sink", "outcome"],
            registry=r,
        )
        self.sink_latency = Histogram(
            "logship_sink_request_seconds",
            "Duration of one send to a sink.",
            ["sink"],
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.sink_buffer_full = Counter(
            "logship_sink_buffer_full_waits",
            "Times a sink's client-side buffer was full and a send waited for room "
            "(Kafka BufferError); nothing is dropped.",
            ["sink"],
            registry=r,
        )
        self.dead_letter_errors = Counter(
            "logship_dead_letter_write_errors",
            "Dead-letter writes that failed (the batch is retried, not acked).",
            ["sink"],
            registry=r,
        )
        self.checkpoint_writes = Counter(
            "logship_checkpoint_writes", "Checkpoint files written.", registry=r
        )
        self.checkpoint_errors = Counter(
            "logship_checkpoint_write_errors", "Checkpoint writes that failed.", registry=r
        )
        self.records_dropped = Counter(
            "logship_parser_records_dropped",
            "Records a parser rule dropped on purpose (never shipped, acknowledged).",
            ["input", "rule"],
            registry=r,
        )
        self.enrich_records = Counter(
            "logship_enrich_records",
            "Records an enrichment step looked at, by outcome: enriched (fields added), missed "
            "(no value, a private address, not in the database), failed (not an address, "
            "not a URL).",
            ["input", "step", "outcome"],
            registry=r,
        )
        Info("logship_build", "The agent's version.", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )
        ProcessCollector(registry=r)  # process_cpu_seconds_total, resident memory, open fds

    def declare_inputs(self, names: list[str]) -> None:
        """Creates the per-input series of rare events at 0, so that `increase()` sees the first one."""
        for name in names:
            for metric in (
                self.truncations,
                self.rotations,
                self.file_wakeups,
                self.file_errors,
                self.symlinks_skipped,
            ):
                metric.labels(name)


def current_value(metric: MetricWrapperBase, labels: dict[str, str], suffix: str = "") -> float:
    """The value of one series of a metric now (0 if it has none yet), e.g. for /status.

    `suffix` picks a sample of the family: `_total` for counters, `_count` for histograms.
    """
    for family in metric.collect():
        name = family.name + suffix
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0
