"""Liveness and readiness verdicts: wedged is not the same as held back by a full queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from logship.core.batch import Batch
from logship.deliver.queue import SinkQueue
from logship.observe.health import Health


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTailer:
    scans: int = 1
    alive: bool = True
    error: BaseException | None = None

    def is_alive(self) -> bool:
        return self.alive


def fake_sink(name: str, ready: bool = True, last_error: str = "") -> SimpleNamespace:
    """The Sink members health reads (logship.core.sink.Sink)."""
    return SimpleNamespace(name=name, ready=ready, last_error=last_error, request_timeout=10.0)


@dataclass
class FakeWorker:
    name: str = "out"
    alive: bool = True
    healthy: bool = True
    last_error: str = ""
    last_delivery: float = 0.0
    queue: SinkQueue = field(default_factory=lambda: SinkQueue(10, 1 << 20))
    settings: Any = field(
        default_factory=lambda: SimpleNamespace(retry=SimpleNamespace(max_backoff=30.0))
    )
    sink: Any = None
    attempts: float = 0.0

    def __post_init__(self) -> None:
        if self.sink is None:
            self.sink = fake_sink(self.name)

    def is_alive(self) -> bool:
        return self.alive


def make(tailer: FakeTailer, *workers: FakeWorker, clock: Clock) -> Health:
    by_name = {w.name: w for w in workers}
    health = Health(
        tailer,
        list(workers),
        lambda name: by_name[name].attempts,
        stall_timeout=60.0,
        scan_interval=10.0,
        loop_interval=1.0,
        clock=clock,
    )
    health.start()
    return health


def states(health: Health) -> dict[str, str]:
    return {c.component: c.state for c in health.liveness()[1]}


def fill(queue: SinkQueue) -> None:
    queue.put(Batch([{"message": "x"}], [], 10))


def test_a_scanning_tailer_and_idle_workers_are_live_and_ready() -> None:
    clock = Clock()
    tailer, worker = FakeTailer(), FakeWorker()
    health = make(tailer, worker, clock=clock)
    for _ in range(20):
        clock.now += 9
        tailer.scans += 1
        assert health.liveness()[0]
    assert states(health) == {"tailer": "running", "sink:out": "idle"}
    assert health.readiness()[0]


def test_a_tailer_without_scans_and_nothing_queued_is_wedged() -> None:
    clock = Clock()
    tailer = FakeTailer()
    health = make(tailer, FakeWorker(), clock=clock)
    clock.now += 69  # stall_timeout + scan_interval - 1
    assert health.liveness()[0]
    clock.now += 2
    live, checks = health.liveness()
    assert not live
    assert checks[0].state == "stalled"
    assert checks[0].component == "tailer"
    assert not health.readiness()[0]


def test_a_tailer_blocked_on_a_full_queue_is_backpressure_not_wedged() -> None:
    clock = Clock()
    tailer, worker = FakeTailer(), FakeWorker(healthy=False, last_error="connection refused")
    health = make(tailer, worker, clock=clock)
    fill(worker.queue)
    for _ in range(100):  # the sink is down for a long time; its worker keeps retrying
        clock.now += 5
        worker.attempts += 1
        live, _ = health.liveness()
        assert live
    assert states(health) == {"tailer": "backpressure", "sink:out": "failing"}
    ready, checks = health.readiness()
    assert not ready
    sink = next(c for c in checks if c.component == "sink:out")
    assert sink.state == "failing"
    assert sink.detail == "connection refused"


def test_a_worker_with_records_queued_and_no_send_finishing_is_wedged() -> None:
    clock = Clock()
    tailer, worker = FakeTailer(), FakeWorker()
    health = make(tailer, worker, clock=clock)
    fill(worker.queue)
    limit = health.worker_limit(worker)
    assert limit == 60 + 30 + 10  # stall_timeout + retry.max_backoff + request_timeout
    clock.now += limit - 1
    tailer.scans += 1
    assert health.liveness()[0]
    clock.now += 2
    tailer.scans += 1
    assert states(health)["sink:out"] == "stalled"
    assert not health.liveness()[0]
    assert not health.readiness()[0]
    worker.attempts += 1  # a send finally finished
    assert health.liveness()[0]


def test_an_idle_worker_is_never_wedged_and_its_first_send_starts_a_fresh_clock() -> None:
    clock = Clock()
    tailer, worker = FakeTailer(), FakeWorker()
    health = make(tailer, worker, clock=clock)
    for _ in range(10):  # an hour with nothing to send, sampled now and then
        clock.now += 360
        tailer.scans += 1
        health.sample()
    fill(worker.queue)
    clock.now += 5
    tailer.scans += 1
    assert health.liveness()[0]


def test_dead_threads_are_not_live() -> None:
    clock = Clock()
    tailer, worker = FakeTailer(), FakeWorker()
    health = make(tailer, worker, clock=clock)
    worker.alive = False
    assert states(health)["sink:out"] == "dead"
    assert not health.liveness()[0]
    worker.alive = True
    tailer.alive = False
    assert states(health)["tailer"] == "dead"
    assert not health.liveness()[0]


def test_a_silent_supervisor_loop_is_wedged() -> None:
    clock = Clock()
    tailer = FakeTailer()
    health = make(tailer, FakeWorker(), clock=clock)
    health.beat()
    clock.now += 30
    tailer.scans += 1
    assert health.liveness()[0]
    clock.now += 40
    tailer.scans += 1
    live, checks = health.liveness()
    assert not live
    assert next(c for c in checks if c.component == "agent").state == "stalled"


def test_a_sink_that_says_it_is_not_ready_makes_the_agent_not_ready() -> None:
    clock = Clock()
    worker = FakeWorker(sink=fake_sink("es", ready=False, last_error="401"), name="es")
    health = make(FakeTailer(), worker, clock=clock)
    assert health.liveness()[0]
    ready, checks = health.readiness()
    assert not ready
    assert checks[1].state == "not_ready"
    assert checks[1].detail == "401"
    worker.sink.ready = True
    assert health.readiness()[0]


def test_nothing_is_ready_before_the_pipeline_starts_or_its_first_scan() -> None:
    clock = Clock()
    tailer = FakeTailer(scans=0)
    health = Health(
        tailer,
        [FakeWorker()],
        lambda name: 0.0,
        stall_timeout=60,
        scan_interval=10,
        loop_interval=1,
        clock=clock,
    )
    assert health.liveness()[0]  # not started is not dead
    assert not health.readiness()[0]
    health.start()
    assert not health.readiness()[0]
    tailer.scans = 1
    assert health.readiness()[0]


def test_while_stopping_the_agent_is_live_but_not_ready() -> None:
    clock = Clock()
    tailer, worker = FakeTailer(), FakeWorker()
    health = make(tailer, worker, clock=clock)
    health.stop()
    tailer.alive = worker.alive = False  # threads end during the drain: expected
    live, checks = health.liveness()
    assert live
    assert checks[0].state == "stopping"
    assert not health.readiness()[0]


class AbsorbingQueue(SinkQueue):
    """A queue whose spool takes the sink's records (logship.deliver.spool.queue)."""

    def __init__(self) -> None:
        super().__init__(10, 1 << 20)
        self.spooling = True

    @property
    def absorbing(self) -> bool:
        return self.spooling


def test_a_failing_sink_whose_spool_absorbs_the_outage_stays_ready() -> None:
    clock = Clock()
    queue = AbsorbingQueue()
    worker = FakeWorker(
        name="es",
        healthy=False,
        last_error="connection refused",
        sink=fake_sink("es", ready=False, last_error="connection refused"),
        queue=queue,
    )
    health = make(FakeTailer(), worker, clock=clock)
    ready, checks = health.readiness()
    assert ready
    assert checks[1].state == "spooling"
    assert "connection refused" in checks[1].detail
    queue.spooling = False  # a full spool with when_full: block: the sink holds the input again
    ready, checks = health.readiness()
    assert not ready
    assert checks[1].state == "failing"
