"""Exactly-once delivery, wired: which sinks take part and what the pipeline does for them.

- A Kafka sink with `delivery: exactly_once` commits the checkpoints itself, in each batch's
  transaction. At start-up its committed checkpoints (offsets topic) win over the local
  registry, which is written as usual from acknowledgements (they follow the commit).
- A file sink with `delivery: exactly_once` notes, per delivered batch, the checkpoints it makes
  and the output length after it; the pipeline saves both in one registry write, and at
  start-up the sink cuts its file back to the saved length.

Both need to be the agent's only sink: with another sink, the acknowledged offset is the
slowest sink's, and the exactly-once sink would be sent again what it already holds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from logship.core.ack import AckTracker
from logship.core.progress import LengthSink, TransactionalSink
from logship.core.sink import Sink
from logship.state.checkpoint import FileCheckpoint
from logship.state.progress import CheckpointProgress, decode_records, merge_committed
from logship.state.registry import FileRegistry
from logship.state.shard import Shard
from sinks.file import FileSink, FileSinkSettings
from sinks.kafka.config import KafkaSinkSettings

log = logging.getLogger(__name__)


def delivery_problems(sinks: Sequence[Any], workers: int | str) -> list[str]:
    """Config problems of `delivery: exactly_once` (the agent refuses to start on them)."""
    problems: list[str] = []
    for index, sink in enumerate(sinks):
        if not _exactly_once(sink):
            continue
        if len(sinks) > 1:
            problems.append(
                f"sinks[{index}].delivery: exactly_once needs the sink to be the agent's only "
                f"sink ({len(sinks)} are configured): with several, a file's checkpoint is the "
                f"slowest sink's; run one agent per exactly-once sink"
            )
        if sink.spool is not None:
            problems.append(
                f"sinks[{index}].spool: not with delivery: exactly_once (a spooled record is "
                f"acknowledged before the sink holds it, so its checkpoint could not travel "
                f"with it); remove one of the two"
            )
        if isinstance(sink, FileSinkSettings) and workers not in (1, "auto"):
            problems.append(
                f"sinks[{index}].delivery: exactly_once into a file needs agent.workers: 1 "
                f"(got {workers}): one process must own the file's length"
            )
        if not isinstance(sink, KafkaSinkSettings):
            continue
        if sink.message_timeout > sink.transaction_timeout:
            problems.append(
                f"sinks[{index}].message_timeout: expected at most transaction_timeout "
                f"({sink.transaction_timeout:g}s) with delivery: exactly_once"
            )
        if sink.offsets_topic in (sink.topic, sink.default_topic):
            problems.append(
                f"sinks[{index}].offsets_topic: expected a topic of its own, not one the "
                f"records go to ({sink.offsets_topic!r})"
            )
    return problems


def _exactly_once(settings: Any) -> bool:
    """True for the settings of a sink with `delivery: exactly_once` (Kafka and file sinks)."""
    return (
        isinstance(settings, KafkaSinkSettings | FileSinkSettings)
        and settings.delivery == "exactly_once"
    )


def forces_one_worker(sinks: Sequence[Any]) -> bool:
    """True when `workers: auto` must mean one worker (an exactly-once file sink)."""
    return any(isinstance(s, FileSinkSettings) and s.delivery == "exactly_once" for s in sinks)


class ExactlyOnce:
    """The exactly-once sinks of one pipeline (none for most agents: then every call is cheap)."""

    def __init__(
        self,
        settings: Sequence[Any],
        sinks: Sequence[Sink],
        acks: AckTracker,
        host_name: str,
        shard: Shard,
    ) -> None:
        self.acks = acks
        self.shard = shard
        self.progress = CheckpointProgress(acks, FileRegistry({}), host_name, shard)
        self.transactional: list[tuple[int, TransactionalSink]] = []
        self.lengths: list[tuple[str, LengthSink]] = []
        self._start_states: dict[str, dict[str, int]] = {}
        for index, (conf, sink) in enumerate(zip(settings, sinks, strict=True)):
            if not _exactly_once(conf):
                continue
            if isinstance(conf, KafkaSinkSettings):
                from sinks.kafka.sink import KafkaSink  # loads confluent_kafka: only when used

                assert isinstance(sink, KafkaSink)
                sink.bind_progress(self.progress)
                self.transactional.append((index, sink))
            elif isinstance(sink, FileSink):
                sink.bind_progress(self.progress)
                self.lengths.append((conf.name, sink))

    def open(
        self, saved: dict[str, FileCheckpoint], sink_states: dict[str, dict[str, int]]
    ) -> dict[str, FileCheckpoint]:
        """Start-up, after the sinks' health checks: the checkpoints to resume from.

        Kafka: take the transactional id over, read the committed checkpoints (they win).
        File: cut the output back to the length saved with `saved`. Raises SinkError.
        """
        for _, sink in self.transactional:
            records = sink.committed_progress()
            committed = decode_records(records, self.progress.key_prefix, self.shard)
            log.info(
                "Checkpoints read back from the Kafka offsets topic.",
                extra={"files": len(committed), "local_files": len(saved)},
            )
            saved = merge_committed(saved, committed)
        for name, length_sink in self.lengths:
            self._start_states[name] = length_sink.restore_state(sink_states.get(name))
        self.progress.start_from(saved)
        return saved

    def bind_registry(self, registry: FileRegistry) -> None:
        """The registry the pipeline resumes with (describes files for the progress records)."""
        self.progress.registry = registry

    def checkpoint(
        self, registry: FileRegistry
    ) -> tuple[dict[str, FileCheckpoint], dict[str, dict[str, int]] | None]:
        """What the next registry write holds: entries, and the file sinks' states (or None).

        With an exactly-once file sink, the offsets are those its last delivered batch made,
        saved with the length it had then. The watermarks are read *before* the sink's state:
        when it has delivered nothing yet, no acknowledgement of a delivered batch can be in them.
        """
        marks = self.acks.watermarks()
        for _, transactional in self.transactional:
            # Acknowledgements can precede the commit (records carried in an open
            # transaction): the registry holds only what is committed.
            committed = transactional.last_committed()
            marks = dict(committed.watermarks) if committed is not None else {}
        if not self.lengths:
            return registry.checkpoints(marks), None
        states: dict[str, dict[str, int]] = {}
        for name, sink in self.lengths:
            state = sink.durable_state()
            if state is None:
                states[name] = self._start_states.get(name, {})
            else:
                progress, states[name] = state
                marks = dict(progress.watermarks)
        return registry.checkpoints(marks), states

    def fatal(self) -> str:
        """Why the agent must stop ("" while it may go on): a fenced Kafka sink."""
        for index, sink in self.transactional:
            if reason := sink.fatal:
                return f"sinks[{index}]: {reason}"
        return ""
