"""Liveness and readiness of a running pipeline: what /healthz and /readyz answer.

**Live** (restart me if not): every thread is alive and none is wedged. A thread is wedged when
it has work to do and shows no progress for `stall_timeout` beyond its own longest legitimate
wait:

- the tailer completes a discovery scan at least every `scan_interval`, busy or idle; it may
  stop scanning only while it is blocked putting records into a sink queue that is full. That
  is backpressure (the sink is slow or down), not a fault: restarting would not help, and the
  sink's own check says what is wrong.
- a sink worker with records queued completes a send attempt (successful or not) at least
  every `retry.max_backoff` + the sink's `request_timeout`; with nothing queued it is idle.
- the agent's supervisor loop (periodic checkpoints) beats every `checkpoint_interval`.

**Ready** (route to me / count me as rolled out): the tailer runs, and every sink is reachable
and making progress: its worker is alive and not wedged, its last send did not fail, and the
sink itself, if it says, is ready (`Sink.ready`, e.g. Elasticsearch answered).

Progress is sampled: `sample` (called by the agent loop and by every probe) notes when each
thread's progress counter last changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from logship.core.sink import Sink, SinkSettings
from logship.deliver.queue import SinkQueue


class TailerView(Protocol):
    """What health needs from the tailer."""

    scans: int
    error: BaseException | None
    """Why the thread stopped, if it failed."""

    def is_alive(self) -> bool:
        """True while the thread runs."""


class WorkerView(Protocol):
    """What health needs from a sink worker."""

    sink: Sink
    settings: SinkSettings
    queue: SinkQueue
    last_error: str
    last_delivery: float

    @property
    def healthy(self) -> bool:
        """False while the sink keeps failing."""

    def is_alive(self) -> bool:
        """True while the thread runs."""


class ComponentView(Protocol):
    """A component with a verdict of its own (Kubernetes metadata: `logship.kube`)."""

    def status(self) -> tuple[bool, str, str]:
        """(ok, state, detail) now."""


@dataclass(frozen=True, slots=True)
class Check:
    """One component's verdict, as /healthz and /readyz show it."""

    component: str
    ok: bool
    state: str
    """running, idle, backpressure, failing, spooling, not_ready, stalled, dead, not_started."""
    detail: str = ""
    progress_age_s: float | None = None
    """Seconds since the component last showed progress (None when not tracked)."""

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON object."""
        doc: dict[str, Any] = {"component": self.component, "ok": self.ok, "state": self.state}
        if self.detail:
            doc["detail"] = self.detail
        if self.progress_age_s is not None:
            doc["progress_age_s"] = round(self.progress_age_s, 3)
        return doc


class _Mark:
    """When a progress counter was last seen to change."""

    __slots__ = ("changed_at", "value")

    def __init__(self, now: float) -> None:
        self.value: object = None
        self.changed_at = now

    def see(self, value: object, now: float) -> float:
        """Notes the counter's value; returns seconds since it last changed."""
        if value != self.value:
            self.value = value
            self.changed_at = now
        return now - self.changed_at

    def touch(self, now: float) -> None:
        """Counts as progress now (nothing to do is not a stall)."""
        self.changed_at = now


class Health:
    """Liveness and readiness verdicts over a pipeline's threads; thread-safe."""

    def __init__(
        self,
        tailer: TailerView,
        workers: Sequence[WorkerView],
        attempts: Callable[[str], float],
        *,
        stall_timeout: float,
        scan_interval: float,
        loop_interval: float,
        clock: Callable[[], float] = time.monotonic,
        components: Mapping[str, ComponentView] | None = None,
    ) -> None:
        self.tailer = tailer
        self.components = dict(components or {})
        """Shown in /healthz with their own verdicts (they fail liveness only if not ok)."""
        self.workers = list(workers)
        self.attempts = attempts
        """Send attempts completed so far by the sink of that name (a progress counter)."""
        self.stall_timeout = stall_timeout
        self.scan_interval = scan_interval
        self.loop_interval = loop_interval
        self.clock = clock
        self.started = False
        self.stopping = False
        self._lock = threading.Lock()
        now = clock()
        self._tailer = _Mark(now)
        self._workers = {w.sink.name: _Mark(now) for w in self.workers}
        self._loop_beat: float | None = None

    def start(self) -> None:
        """The pipeline's threads have been started: from now on a dead thread is a fault."""
        with self._lock:
            now = self.clock()
            self.started = True
            self._tailer.see(self.tailer.scans, now)
            for worker in self.workers:
                self._workers[worker.sink.name].see(self.attempts(worker.sink.name), now)

    def stop(self) -> None:
        """The agent is shutting down: threads ending is expected (live), nothing is ready."""
        with self._lock:
            self.stopping = True

    def beat(self) -> None:
        """The agent's supervisor loop is alive; also samples progress."""
        with self._lock:
            self._loop_beat = self.clock()
        self.sample()

    def sample(self) -> None:
        """Notes the progress counters now (cheap; call it often)."""
        self._checks()

    def worker_limit(self, worker: WorkerView) -> float:
        """Seconds without a completed send attempt, with records queued, before a worker is wedged."""
        backoff = worker.settings.retry.max_backoff
        return self.stall_timeout + backoff + worker.sink.request_timeout

    def _checks(self) -> tuple[Check, list[Check], Check | None]:
        """(tailer, one per worker, the supervisor loop) verdicts now."""
        with self._lock:
            now = self.clock()
            return (
                self._tailer_check(now),
                [self._worker_check(w, now) for w in self.workers],
                self._loop_check(now),
            )

    def _tailer_check(self, now: float) -> Check:
        if not self.started:
            return Check("tailer", True, "not_started")
        age = self._tailer.see(self.tailer.scans, now)
        if not self.tailer.is_alive():
            error = self.tailer.error
            detail = "the tailer thread has stopped" + (f": {error!r}" if error else "")
            return Check("tailer", False, "dead", detail, age)
        if age <= self.stall_timeout + self.scan_interval:
            return Check("tailer", True, "running", progress_age_s=age)
        if any(w.queue.events for w in self.workers):
            return Check(
                "tailer",
                True,
                "backpressure",
                "waiting for room in a sink queue (the sink is slow or down)",
                age,
            )
        return Check(
            "tailer", False, "stalled", f"no discovery scan for {age:.0f}s and no backpressure", age
        )

    def _worker_check(self, worker: WorkerView, now: float) -> Check:
        name = f"sink:{worker.sink.name}"
        if not self.started:
            return Check(name, True, "not_started")
        mark = self._workers[worker.sink.name]
        age = mark.see(self.attempts(worker.sink.name), now)
        if not worker.is_alive():
            return Check(name, False, "dead", "the sink worker thread has stopped", age)
        if worker.queue.events == 0:
            mark.touch(now)
            age = 0.0
        if age > self.worker_limit(worker):
            return Check(
                name, False, "stalled", f"records queued and no send finished for {age:.0f}s", age
            )
        if not worker.healthy:
            return Check(name, True, "failing", worker.last_error, age)
        return Check(name, True, "running" if worker.queue.events else "idle", progress_age_s=age)

    def _loop_check(self, now: float) -> Check | None:
        if self._loop_beat is None:
            return None
        age = now - self._loop_beat
        if age > self.stall_timeout + self.loop_interval:
            return Check("agent", False, "stalled", f"checkpoint loop silent for {age:.0f}s", age)
        return Check("agent", True, "running", progress_age_s=age)

    def liveness(self) -> tuple[bool, list[Check]]:
        """(live?, the checks behind it)."""
        if self.stopping:
            return True, [Check("agent", True, "stopping", "draining the queues")]
        tailer, workers, loop = self._checks()
        checks = [tailer, *workers, *([loop] if loop else []), *self._component_checks()]
        return all(c.ok for c in checks), checks

    def _component_checks(self) -> list[Check]:
        if not self.started:
            return [Check(name, True, "not_started") for name in self.components]
        return [Check(name, *c.status()) for name, c in self.components.items()]

    def readiness(self) -> tuple[bool, list[Check]]:
        """(ready?, one check for the tailer and one per sink)."""
        if self.stopping:
            return False, [Check("agent", False, "stopping", "draining the queues")]
        tailer, workers, _ = self._checks()
        checks = [self._tailer_ready(tailer)]
        for worker, live in zip(self.workers, workers, strict=True):
            checks.append(self._sink_ready(worker, live))
        return all(c.ok for c in checks), checks

    def _tailer_ready(self, live: Check) -> Check:
        if not self.started:
            return Check("tailer", False, "not_started", "the pipeline has not started yet")
        if not live.ok:
            return live
        if self.tailer.scans == 0:
            return Check("tailer", False, "not_started", "the first discovery scan is running")
        return live

    def _sink_ready(self, worker: WorkerView, live: Check) -> Check:
        if not live.ok or live.state == "not_started":
            return Check(live.component, False, live.state, live.detail, live.progress_age_s)
        if (not worker.healthy or not worker.sink.ready) and worker.queue.absorbing:
            # Its disk spool takes its records: nothing waits on it, the agent does its job.
            return Check(
                live.component,
                True,
                "spooling",
                "records go to the disk spool: " + (worker.last_error or worker.sink.last_error),
                live.progress_age_s,
            )
        if not worker.healthy:
            return Check(
                live.component,
                False,
                "failing",
                worker.last_error or "the last send failed",
                live.progress_age_s,
            )
        if not worker.sink.ready:
            error = worker.sink.last_error
            return Check(
                live.component,
                False,
                "not_ready",
                error or "the sink has not reached its target yet",
                live.progress_age_s,
            )
        return live
