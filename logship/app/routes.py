"""Routing and spool wiring: each sink's queue (spooled or not), each input's routes, and the
config checks they need (`inputs[].sinks`, `sinks[].when`, sinks no input reaches)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from logship.core.ack import AckTracker
from logship.core.metrics import Metrics
from logship.core.sink import SinkSettings
from logship.deliver.queue import SinkQueue
from logship.deliver.spool.queue import SpooledQueue, SpoolMetrics
from logship.deliver.spool.store import SpoolStore
from logship.tail.routing import Route
from logship.tail.settings import InputSettings
from parsers.condition import ConditionSettings, compile_condition


def spool_folder(data_dir: Path, sink: str, suffix: str = "") -> Path:
    """Where sink `sink`'s spool lives (one per worker process with `workers: N`)."""
    return data_dir / "spool" / f"{sink}{suffix}"


def build_queue(
    settings: SinkSettings,
    takes_ndjson: bool,
    data_dir: Path,
    suffix: str,
    acks: AckTracker,
    metrics: Metrics,
) -> SinkQueue:
    """The sink's queue: in memory, or backed by its spool when `spool:` is set (not yet opened:
    `SpooledQueue.open` recovers the folder once the data folder is claimed)."""
    q = settings.queue
    if settings.spool is None:
        return SinkQueue(q.max_events, q.max_bytes)
    store = SpoolStore(spool_folder(data_dir, settings.name, suffix), settings.spool.max_bytes)
    return SpooledQueue(
        q.max_events,
        q.max_bytes,
        store,
        settings.spool.when_full,
        acks,
        SpoolMetrics.of(metrics, settings.name),
        settings.name,
        takes_ndjson,
    )


def input_sinks(inp: InputSettings, sinks: Sequence[SinkSettings]) -> list[int]:
    """Indices of the sinks an input routes to (every sink unless it names some)."""
    if inp.sinks is None:
        return list(range(len(sinks)))
    wanted = set(inp.sinks)
    return [i for i, s in enumerate(sinks) if s.name in wanted]


def input_routes(
    inp: InputSettings, sinks: Sequence[SinkSettings], queues: Sequence[SinkQueue]
) -> tuple[list[SinkQueue], list[Route]]:
    """The queues of an input's sinks, and its routes when one of them has a `when` (else [])."""
    chosen = input_sinks(inp, sinks)
    routed = [queues[i] for i in chosen]
    if all(sinks[i].when is None for i in chosen):
        return routed, []
    return routed, [Route(sinks[i].name, queues[i], _predicate(sinks[i].when)) for i in chosen]


def _predicate(when: dict[str, Any] | None) -> Any:
    return None if when is None else compile_condition(ConditionSettings.model_validate(when))


def routing_problems(inputs: Sequence[InputSettings], sinks: Sequence[SinkSettings]) -> list[str]:
    """Config errors: unknown sink names in `inputs[].sinks`, `when` conditions that do not
    validate."""
    problems: list[str] = []
    names = [s.name for s in sinks]
    for i, inp in enumerate(inputs):
        for j, name in enumerate(inp.sinks or []):
            if name not in names:
                problems.append(
                    f"inputs[{i}].sinks[{j}]: unknown sink {name!r} (defined: {', '.join(names)})"
                )
    for i, sink in enumerate(sinks):
        if sink.when is None:
            continue
        try:
            ConditionSettings.model_validate(sink.when)
        except ValidationError as exc:
            for err in exc.errors():
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
                message = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    message = (
                        "unknown key; a condition has field with one of equals, in, matches, "
                        "gt, gte, lt, lte, exists, or all, any, not"
                    )
                problems.append(f"sinks[{i}].when{where}: {message}")
    return problems


def unreachable_sinks(inputs: Sequence[InputSettings], sinks: Sequence[SinkSettings]) -> list[str]:
    """Warnings for `check`: sinks that no input routes to."""
    reached = {i for inp in inputs for i in input_sinks(inp, sinks)}
    return [
        f"sinks[{i}] ({s.name}): no input routes to it (every input names other sinks in "
        f"`sinks:`); it will never receive a record"
        for i, s in enumerate(sinks)
        if i not in reached
    ]
