"""Shipping: what the tailer does with the lines it framed. Parses them into records, counts
them, shows them to the observers, takes one ack ticket per chunk and queues one batch to every
sink queue of the input (a full queue blocks: that is the backpressure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.lines import Lines
from logship.core.metrics import Metrics
from logship.core.ndjson import encode_ndjson
from logship.tail.files import RecordObserver, SelectingObserver, TailedFile
from logship.tail.routing import ship_routed
from logship.tail.stages import encode_events, parse_events
from parsers.selection import Selection


@dataclass(frozen=True, slots=True)
class InputMetrics:
    """One input's hot-path metric children, resolved once (a `.labels()` call per chunk costs)."""

    lines_read: Any
    bytes_read: Any
    lines_truncated: Any
    records_unmatched: Any
    partial_lines_flushed: Any
    bytes_truncated: Any
    records_unrouted: Any

    @classmethod
    def of(cls, metrics: Metrics, name: str) -> InputMetrics:
        """The children labelled with input `name`."""
        return cls(
            metrics.lines_read.labels(name),
            metrics.bytes_read.labels(name),
            metrics.lines_truncated.labels(name),
            metrics.records_unmatched.labels(name),
            metrics.partial_lines_flushed.labels(name),
            metrics.bytes_truncated.labels(name),
            metrics.records_unrouted.labels(name),
        )


def selection_of(
    observers: Sequence[RecordObserver], input_name: str
) -> tuple[SelectingObserver, Selection] | None:
    """The only observer and its Selection for the input, when it is a `SelectingObserver`
    that has one (alerts); None when the records go to every observer whole."""
    if len(observers) != 1 or not isinstance(observers[0], SelectingObserver):
        return None
    selection = observers[0].selection(input_name)
    return None if selection is None else (observers[0], selection)


class Shipper:
    """Parses, counts, observes, tickets and queues the chunks of every input's files."""

    def __init__(
        self, acks: AckTracker, metrics: Metrics, observers: Sequence[RecordObserver]
    ) -> None:
        self.acks = acks
        self.metrics = metrics
        self.observers = list(observers)
        self._inputs: dict[str, InputMetrics] = {}
        self._observed: list[RecordObserver] = []
        self._selecting: dict[str, tuple[SelectingObserver, Selection] | None] = {}
        """Per input, `selection_of(self.observers, input)` for the list in `_observed`."""

    def of(self, name: str) -> InputMetrics:
        """Input `name`'s metric children (resolved on first use, kept across reloads)."""
        found = self._inputs.get(name)
        if found is None:
            found = self._inputs[name] = InputMetrics.of(self.metrics, name)
        return found

    def ship(self, tf: TailedFile, lines: Lines, flushed: bool = False) -> None:
        """Parses events and queues the records with one ack ticket (per chunk, not per line)."""
        inp = tf.input
        m = self.of(inp.name)
        if lines.truncated_bytes:
            m.bytes_truncated.inc(lines.truncated_bytes)
        if lines.end <= tf.registered_end and not lines.texts:
            return
        chain = inp.chain if tf.chain is None else tf.chain  # a pod's annotations may choose
        # Records every sink takes as NDJSON are parsed and encoded in one pass (the fast
        # path), kept as dicts too only when observers (alerts, derived metrics) read them;
        # routing (a sink's `when`) reads every record, so it takes the general path.
        # One observer that says which records it reads (alerts) gets only those, selected
        # inside the fast path's loop: the others are never built as dicts.
        observers = self.observers
        if observers is not self._observed:  # a reload replaced them: ask again
            self._observed, self._selecting = observers, {}
        if inp.name in self._selecting:
            selecting = self._selecting[inp.name]
        else:  # (a Protocol isinstance costs microseconds: once per input, not per chunk)
            selecting = self._selecting[inp.name] = selection_of(observers, inp.name)
        encoded = None
        if inp.encode and not inp.routes:
            select = None if selecting is None else selecting[1]
            encoded = encode_events(
                chain, lines, tf.file_info, tf.file_fields, bool(observers), select
            )
        if encoded is None:
            entries, stats = parse_events(chain, lines, tf.file_info, tf.file_fields)
            count = len(entries)
        else:
            ndjson, count, stats, entries = encoded
        m.lines_read.inc(len(lines))
        if flushed and lines.texts:
            m.partial_lines_flushed.inc(len(lines))
        if lines.truncated:
            m.lines_truncated.inc(len(lines.truncated))
        if stats.unmatched:
            m.records_unmatched.inc(stats.unmatched)
        for rule, n in stats.matched.items():
            self.metrics.records_parsed.labels(inp.name, rule).inc(n)
        for (rule, reason), n in stats.field_errors.items():
            self.metrics.parse_errors.labels(inp.name, rule, reason).inc(n)
        for rule, n in stats.dropped.items():
            self.metrics.records_dropped.labels(inp.name, rule).inc(n)
        if selecting is not None and encoded is not None:
            selecting[0].observe_selected(inp.name, entries)  # type: ignore[arg-type]
        else:
            for observer in observers:
                observer.observe(inp.name, entries)
        tf.registered_end = lines.end
        if inp.routes and entries:  # some sink has a `when`: each gets its share
            ship_routed(
                self.acks, tf.key, lines, entries, inp.routes, inp.encode, m.records_unrouted
            )
            return
        ticket = self.acks.register(tf.key, lines.end, len(inp.queues) if count else 0)
        if not count:
            return
        nbytes = max(lines.end - lines.starts[0], 1)
        batch = Batch(entries, [ticket], nbytes)
        if encoded is not None:
            batch = Batch.encoded(ndjson, count, [ticket], nbytes)
        elif inp.encode:
            try:
                batch = Batch.encoded(encode_ndjson(entries), len(entries), [ticket], nbytes)
            except orjson.JSONEncodeError:
                # A record JSON cannot hold (an integer beyond 64 bits): the dicts go on, and
                # the sink worker dead-letters exactly the records that cannot be encoded.
                pass
        for queue in inp.queues:
            if not queue.put(batch):
                return  # stopping: not queued means not acked, so re-read after restart
