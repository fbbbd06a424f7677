"""Status: the live snapshot /status serves, and the table `logship status` prints from the registry.

The table reads the registry in the data folder (`registry.json`, or with `workers: N` every
worker's file) without taking the folder's lock, so it works whether or not an agent runs (the registry is replaced atomically: a reader sees the old or the
new one). It shows acknowledged offsets as of the last checkpoint, and sizes as of now.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from prometheus_client.exposition import choose_encoder

from logship import __version__
from logship.app.config import Config
from logship.app.http_endpoint import Answer, Routes
from logship.core.ack import AckTracker
from logship.core.metrics import Metrics, current_value
from logship.core.record import format_epoch
from logship.core.secrets import redact_tree
from logship.deliver.queue import SpoolStats
from logship.deliver.worker import SinkWorker
from logship.observe.health import Health
from logship.observe.live_metrics import FileStates, LiveMetrics, file_lags
from logship.state.checkpoint import CheckpointStore
from logship.state.registry import FileRegistry
from logship.state.shard import read_all
from logship.tail.files import InputRuntime
from logship.tail.identity import FileIdentity


class PipelineView(Protocol):
    """What /status and the routes read of a running pipeline (`logship.app.pipeline.Pipeline`
    has these); a protocol so the pipeline, which serves the routes, is not imported back."""

    @property
    def config(self) -> Config: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def health(self) -> Health: ...
    @property
    def live_metrics(self) -> LiveMetrics: ...
    @property
    def secrets(self) -> frozenset[str]: ...
    @property
    def tailer(self) -> FileStates: ...
    @property
    def acks(self) -> AckTracker: ...
    @property
    def inputs(self) -> Sequence[InputRuntime]: ...
    @property
    def workers(self) -> Sequence[SinkWorker]: ...
    @property
    def store(self) -> CheckpointStore: ...
    @property
    def registry(self) -> FileRegistry: ...


# --- `logship status`: the registry on disk ------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One checkpointed file: its acknowledged offset, and what is on disk under its path now."""

    key: str
    path: str
    acked_offset: int
    updated: float
    size: int | None
    """Size now; None when the path no longer holds this file."""
    state: str
    """ok; truncated (shorter than its checkpoint: read again from 0); gone (no file at the
    path); replaced (another file at the path: this one was rotated away or deleted)."""

    @property
    def lag(self) -> int | None:
        """Bytes not acknowledged yet (None when unknown)."""
        if self.size is None:
            return None
        if self.state == "truncated":
            return self.size
        return max(0, self.size - self.acked_offset)

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object."""
        return {
            "path": self.path,
            "key": self.key,
            "state": self.state,
            "size": self.size,
            "acked_offset": self.acked_offset,
            "lag_bytes": self.lag,
            "updated": format_epoch(self.updated) if self.updated else None,
        }


def registry_rows(data_dir: Path) -> list[RegistryRow]:
    """Every file in the data folder's registry, with its size now; raises CheckpointError."""
    entries = read_all(data_dir)
    rows = []
    for key, cp in entries.items():
        try:
            st = os.stat(cp.path)
        except OSError:
            rows.append(RegistryRow(key, cp.path, cp.offset, cp.updated, None, "gone"))
            continue
        if FileIdentity.of(st).key != key:
            rows.append(RegistryRow(key, cp.path, cp.offset, cp.updated, None, "replaced"))
        elif st.st_size < cp.offset:
            rows.append(RegistryRow(key, cp.path, cp.offset, cp.updated, st.st_size, "truncated"))
        else:
            rows.append(RegistryRow(key, cp.path, cp.offset, cp.updated, st.st_size, "ok"))
    rows.sort(key=lambda r: (r.path, r.key))
    return rows


def render_table(rows: list[RegistryRow], now: float | None = None) -> str:
    """A fixed-width table: PATH SIZE ACKED LAG UPDATED STATE (sizes in bytes)."""
    now = time.time() if now is None else now
    header = ("PATH", "SIZE", "ACKED", "LAG", "UPDATED", "STATE")
    body = [
        (
            row.path,
            "-" if row.size is None else str(row.size),
            str(row.acked_offset),
            "-" if row.lag is None else str(row.lag),
            _ago(now - row.updated) if row.updated else "-",
            row.state,
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    right = {1, 2, 3}  # numbers align right

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join(line(r) for r in [header, *body])


def _spool_json(stats: SpoolStats | None) -> dict[str, Any] | None:
    """A sink's spool in /status (None without one)."""
    if stats is None:
        return None
    return {
        "bytes": stats.nbytes,
        "records": stats.records,
        "oldest": format_epoch(stats.oldest) if stats.oldest else None,
        "spooling": stats.spooling,
        "last_error": stats.last_error,
    }


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


# --- /status: the running agent ----------------------------------------------------------


def live_status(pipeline: PipelineView, started: float) -> dict[str, Any]:
    """The running agent's state as JSON-ready data: inputs, open files, offsets, lag, sinks.

    Holds no config values beyond names and paths, and any secret value of the config that
    appears in an error text is masked.
    """
    metrics = pipeline.metrics
    live, live_checks = pipeline.health.liveness()
    ready, ready_checks = pipeline.health.readiness()
    files = []
    lag_by_input: dict[str, int] = {}
    open_by_input: dict[str, int] = {}
    for state, acked in sorted(file_lags(pipeline.tailer, pipeline.acks), key=lambda f: f[0].path):
        lag = max(0, state.size - acked)
        lag_by_input[state.input] = lag_by_input.get(state.input, 0) + lag
        open_by_input[state.input] = open_by_input.get(state.input, 0) + 1
        files.append(
            {
                "input": state.input,
                "path": state.path,
                "key": state.key,
                "size": state.size,
                "read_offset": state.read_offset,
                "acked_offset": acked,
                "lag_bytes": lag,
                "unread_bytes": max(0, state.size - state.read_offset),
            }
        )
    inputs = [
        {
            "name": inp.name,
            "paths": list(inp.settings.paths),
            "files_open": open_by_input.get(inp.name, 0),
            "lines_read": int(current_value(metrics.lines_read, {"input": inp.name}, "_total")),
            "bytes_read": int(current_value(metrics.bytes_read, {"input": inp.name}, "_total")),
            "lag_bytes": lag_by_input.get(inp.name, 0),
        }
        for inp in pipeline.inputs
    ]
    readiness = {c.component: c for c in ready_checks}
    sinks = []
    for worker, settings in zip(pipeline.workers, pipeline.config.sinks, strict=True):
        name = worker.sink.name
        check = readiness.get(f"sink:{name}") or ready_checks[0]  # stopping: one agent check
        records = {
            outcome: int(
                current_value(metrics.sink_records, {"sink": name, "outcome": outcome}, "_total")
            )
            for outcome in ("delivered", "retried", "dead_lettered")
        }
        sinks.append(
            {
                "name": name,
                "type": settings.type,
                "ready": check.ok,
                "state": check.state,
                "detail": check.detail,
                "last_error": worker.last_error,
                "last_delivery": format_epoch(worker.last_delivery)
                if worker.last_delivery
                else None,
                "queue": {
                    "events": worker.queue.events,
                    "bytes": worker.queue.nbytes,
                    "max_events": worker.queue.max_events,
                    "max_bytes": worker.queue.max_bytes,
                },
                "records": records,
                "spool": _spool_json(worker.queue.spool_stats()),
            }
        )
    doc = {
        "version": __version__,
        "host_name": pipeline.config.agent.host_name,
        "pid": os.getpid(),
        "started_at": format_epoch(started),
        "uptime_s": round(time.time() - started, 3),
        "live": live,
        "ready": ready,
        "health": [c.to_json() for c in live_checks],
        "inputs": inputs,
        "files": files,
        "sinks": sinks,
        "checkpoint": {
            "path": str(pipeline.store.path),
            "files": len(pipeline.registry.checkpoints({})),
        },
        "time": format_epoch(time.time()),
    }
    masked: dict[str, Any] = redact_tree(doc, pipeline.secrets)
    return masked


# --- the routes one agent process serves ----------------------------------------------------


def pipeline_routes(pipeline: PipelineView) -> Routes:
    """The routes of one agent process: its metrics, health and status."""
    started = time.time()

    def metrics(accept: str) -> Answer:
        pipeline.health.sample()
        pipeline.live_metrics.refresh()
        encoder, content_type = choose_encoder(accept)
        return 200, content_type, encoder(pipeline.metrics.registry)

    def healthz(accept: str) -> Answer:
        live, checks = pipeline.health.liveness()
        doc = {"status": "ok" if live else "unhealthy", "checks": [c.to_json() for c in checks]}
        return (200 if live else 503), "application/json", _json(doc, pipeline.secrets)

    def readyz(accept: str) -> Answer:
        ready, checks = pipeline.health.readiness()
        doc = {"status": "ready" if ready else "not ready", "checks": [c.to_json() for c in checks]}
        return (200 if ready else 503), "application/json", _json(doc, pipeline.secrets)

    def status(accept: str) -> Answer:
        doc = live_status(pipeline, started)
        return 200, "application/json", orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"

    return {"/metrics": metrics, "/healthz": healthz, "/readyz": readyz, "/status": status}


def _json(doc: dict[str, Any], secrets: frozenset[str]) -> bytes:
    return orjson.dumps(redact_tree(doc, secrets)) + b"\n"
