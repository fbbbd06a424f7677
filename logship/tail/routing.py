"""Routing: which of an input's sinks get which records of a chunk (`sinks[].when`).

Only inputs with at least one conditional sink come here; for the others every record of a
chunk goes to every sink of the input, at no cost per record. Here each sink gets the records
its condition accepts, as one batch per chunk, all sharing one ack ticket owed by the sinks that
got at least one record. Records no sink accepts are counted and, like dropped records,
acknowledged at once (the ticket is done when no sink owes it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.lines import Lines
from logship.core.ndjson import encode_ndjson
from logship.core.record import LogEntry
from logship.deliver.queue import SinkQueue


@dataclass(frozen=True, slots=True)
class Route:
    """One sink of an input: its queue and, when it has one, its `when` condition."""

    sink: str
    queue: SinkQueue
    when: Callable[[LogEntry], bool] | None = None


def ship_routed(
    acks: AckTracker,
    file_key: str,
    lines: Lines,
    entries: list[LogEntry],
    routes: Sequence[Route],
    encode: bool,
    unrouted: Any,
) -> None:
    """Queues each route's share of `entries` with one shared ticket; counts the unrouted."""
    chosen = bytearray(len(entries))
    every = False
    shares: list[tuple[Route, list[LogEntry]]] = []
    for route in routes:
        when = route.when
        if when is None:
            every = True
            shares.append((route, entries))
            continue
        share = []
        for i, entry in enumerate(entries):
            if when(entry):
                share.append(entry)
                chosen[i] = 1
        if share:
            shares.append((route, share))
    if not every:
        missed = len(entries) - sum(chosen)
        if missed:
            unrouted.inc(missed)
    ticket = acks.register(file_key, lines.end, len(shares))
    if not shares:
        return
    nbytes = max(lines.end - lines.starts[0], 1)
    encoded: dict[int, Batch] = {}
    for route, share in shares:
        batch = encoded.get(id(share))
        if batch is None:
            batch = _batch(share, ticket, nbytes * len(share) // len(entries), encode)
            encoded[id(share)] = batch
        if not route.queue.put(batch):
            return  # stopping: not queued means not acked, so re-read after restart


def _batch(share: list[LogEntry], ticket: Any, nbytes: int, encode: bool) -> Batch:
    if encode:
        try:
            return Batch.encoded(encode_ndjson(share), len(share), [ticket], max(nbytes, 1))
        except orjson.JSONEncodeError:
            pass  # the sink worker dead-letters exactly the records JSON cannot hold
    return Batch(share, [ticket], max(nbytes, 1))
