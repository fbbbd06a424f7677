"""Exactly-once delivery: what an exactly-once sink needs from the pipeline, and what it gives back.

An exactly-once sink stores, atomically with a batch's records, *where that batch leaves the
checkpoints*: Kafka in the same transaction (a compacted offsets topic), the file sink in the
registry write that records its output length. The pipeline hands the sink that position as
opaque `Progress`: the sink stores its `records` or keeps it, and never looks inside, so sinks
still know nothing about files or offsets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from logship.core.batch import Batch

Delivery = Literal["at_least_once", "exactly_once"]
"""The `delivery:` key of the sinks that offer both modes."""


@dataclass(frozen=True, slots=True)
class Progress:
    """The checkpoints as they stand once a batch is acknowledged: opaque to sinks.

    `records` are (key, value) messages for a sink that stores progress in its own target (the
    Kafka offsets topic, compacted by key); `watermarks` is what the pipeline reads back.
    """

    watermarks: Mapping[str, int]
    records: tuple[tuple[bytes, bytes], ...] = ()


class ProgressSource(Protocol):
    """Provided by the pipeline to an exactly-once sink (`logship.state.progress`)."""

    @property
    def scope(self) -> str:
        """A name of this agent process's share of the files, stable across restarts (host
        name and worker shard): a transactional producer's id derives from it."""

    @property
    def key_prefix(self) -> bytes:
        """The prefix of every `Progress.records` key this agent (any of its workers) writes."""

    def after(self, batch: Batch) -> Progress:
        """The checkpoints as they will be once `batch` is acknowledged (call after delivery,
        before returning from `send`)."""

    def committed(self, progress: Progress) -> None:
        """Tells that `progress` is now durably stored with the batch (later records may omit
        what did not change since)."""


class TransactionalSink(Protocol):
    """A sink that commits checkpoints itself, atomically with the records (Kafka transactions).

    At start-up the pipeline binds it, then reads back what it committed; that is where reading
    resumes (the local registry is only a cache). `fatal` is set when it must not go on (fenced
    by another agent with the same identity): the agent then stops with that message.
    """

    def bind_progress(self, source: ProgressSource) -> None:
        """Gives it the pipeline's progress; every send from now on commits it."""

    def committed_progress(self) -> list[tuple[bytes, bytes]]:
        """Takes over the transactional identity (fencing an older agent with it), then reads
        the committed progress records under `key_prefix`, the latest per key. Raises
        SinkError when they cannot be read."""

    def last_committed(self) -> Progress | None:
        """The progress of its last committed transaction (None before the first): the local
        registry never holds more, so it is never ahead of what is committed."""

    @property
    def fatal(self) -> str:
        """Why the sink cannot go on ("" while it can)."""


class LengthSink(Protocol):
    """A sink whose output length belongs in the checkpoint (the file sink, exactly-once)."""

    def bind_progress(self, source: ProgressSource) -> None:
        """Gives it the pipeline's progress; every delivered send notes where it stands."""

    def durable_state(self) -> tuple[Progress, dict[str, int]] | None:
        """The progress of the last delivered batch with the sink's state that matches it
        (`{"length": ..., ...}`), or None before the first delivery since start."""

    def restore_state(self, state: Mapping[str, int] | None) -> dict[str, int]:
        """Cuts the output back to a saved state (None: none saved); returns the current state."""
