"""Alert delivery in process: the webhook sees one notification per group per silence window and a
resolve after quiet; retries through 500 / 429; a down webhook only fills the bounded outbox,
whose overflow drops the oldest and is counted; the hand-over of queued notifications."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.core.metrics import Metrics
from logship.core.record import format_epoch
from logship.observe.alerts.runtime import AlertRuntime
from logship.observe.alerts.settings import AlertsSettings
from tests.doubles.webhook_server import Reply, WebhookServer
from tests.harness import wait_until

T0 = 1_764_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def settings(url: str, **destination: Any) -> AlertsSettings:
    return AlertsSettings.model_validate(
        {
            "destinations": [
                {
                    "name": "oncall",
                    "url": url,
                    "retry": {"initial_backoff": "10ms", "max_backoff": "50ms"},
                    "batch": {"linger_ms": 0},
                    **destination,
                }
            ],
            "rules": [
                {
                    "name": "payment_errors",
                    "when": {"field": "log.level", "equals": "error"},
                    "threshold": "count >= 20 within 60s",
                    "group_by": ["service.name"],
                    "silence": "10m",
                    "resolve_after": "1m",
                    "severity": "critical",
                    "message": "{service.name}: {count} errors in {window}, last: {message}",
                }
            ],
        }
    )


def records(t: float, service: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "@timestamp": format_epoch(t),
            "message": f"card declined {i}",
            "log": {"level": "error"},
            "service": {"name": service},
        }
        for i in range(count)
    ]


@pytest.fixture
def runtime_for(tmp_path: Path) -> Iterator[Any]:
    started: list[AlertRuntime] = []

    def make(alerts: AlertsSettings, clock: Clock) -> AlertRuntime:
        runtime = AlertRuntime(alerts, "node-1", tmp_path / "data", Metrics(), clock=clock)
        runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        runtime.close(1.0)


def test_a_burst_sends_one_alert_per_group_and_a_resolve_after_quiet(
    hook: WebhookServer, runtime_for: Any
) -> None:
    clock = Clock()
    runtime = runtime_for(settings(hook.url), clock)
    engine = runtime.engine
    for second in range(30):  # 2 errors/s per service for 30 s: 60 per service
        clock.now = T0 + second
        engine.observe("app", records(clock.now, "payment", 2) + records(clock.now, "search", 2))
    wait_until(lambda: len(hook.delivered()) == 2, timeout=30, message="two firing alerts")
    firing = hook.bodies()
    assert sorted(b["group"]["service.name"] for b in firing) == ["payment", "search"]
    by_service = {b["group"]["service.name"]: b for b in firing}
    payment = by_service["payment"]
    assert payment["status"] == "firing"
    assert payment["message"] == "payment: 20 errors in 1m, last: card declined 1"
    assert payment["severity"] == "critical"
    assert payment["starts_at"] == format_epoch(T0 + 9)
    assert payment["record"]["message"] == "card declined 1"

    # The 20th newest record is at T0+20: below the threshold from T0+80, quiet 60 s later.
    clock.now = T0 + 150
    engine.tick()
    wait_until(lambda: len(hook.delivered()) == 4, timeout=30, message="two resolves")
    resolved = hook.bodies()[2:]
    assert {b["status"] for b in resolved} == {"resolved"}
    assert {b["ends_at"] for b in resolved} == {format_epoch(T0 + 140)}
    engine.tick()
    assert len(hook.requests) == 4


def test_500_and_429_are_retried_and_the_alert_arrives_once(
    hook: WebhookServer, runtime_for: Any
) -> None:
    hook.script.extend([Reply(500), Reply(429, {"Retry-After": "0"}), Reply(503)])
    clock = Clock()
    runtime = runtime_for(settings(hook.url), clock)
    runtime.engine.observe("app", records(T0, "payment", 20))
    wait_until(hook.delivered, timeout=30, message="the alert after retries")
    assert hook.attempts() == 4
    assert [b["status"] for b in hook.bodies()] == ["firing"]


def test_a_down_webhook_loses_only_what_overflows_the_queue_and_counts_it(
    hook: WebhookServer, runtime_for: Any
) -> None:
    hook.down()
    clock = Clock()
    alerts = settings(hook.url, queue={"max_events": 3}, batch={"max_events": 1, "linger_ms": 0})
    runtime = runtime_for(alerts, clock)
    engine = runtime.engine
    for i in range(10):  # ten groups fire, one notification each
        engine.observe("app", records(T0, f"svc{i}", 20))
    destination = runtime.destinations[0]
    wait_until(lambda: destination.worker.last_error, timeout=30, message="a failed attempt")
    # One notification is in flight (retried by the worker), at most three wait, the rest
    # were dropped: the oldest first.
    outbox = destination.outbox
    assert outbox.events + outbox.dropped == 9
    assert outbox.dropped >= 6
    hook.up()
    wait_until(lambda: len(hook.delivered()) == 10 - outbox.dropped, timeout=30, message="the rest")
    services = [b["group"]["service.name"] for b in hook.bodies()]
    assert services[-2:] == ["svc8", "svc9"]  # the newest were kept
    assert services == sorted(services)
    families = {f.name: f for f in runtime.collector.collect()}
    [dropped] = families["logship_alert_queue_dropped"].samples
    assert dropped.value == outbox.dropped
    assert dropped.labels == {"destination": "oncall"}


def test_alertmanager_gets_lists_and_slack_gets_text(runtime_for: Any) -> None:
    with WebhookServer("/api/v2/alerts") as am, WebhookServer("/services/T/B/X") as slack:
        alerts = AlertsSettings.model_validate(
            {
                "destinations": [
                    {"name": "am", "preset": "alertmanager", "url": am.url},
                    {"name": "chat", "preset": "slack", "url": slack.url},
                ],
                "rules": [
                    {
                        "name": "oom",
                        "when": {"field": "message", "matches": "OutOfMemoryError"},
                        "group_by": ["service.name"],
                        "severity": "critical",
                        "labels": {"team": "payments"},
                        "message": "{service.name}: {message}",
                    }
                ],
            }
        )
        clock = Clock()
        runtime = runtime_for(alerts, clock)
        runtime.engine.observe(
            "app",
            [
                {
                    "@timestamp": format_epoch(T0),
                    "message": "java.lang.OutOfMemoryError: heap",
                    "service": {"name": "payment"},
                }
            ],
        )
        wait_until(lambda: am.delivered() and slack.delivered(), timeout=30, message="both")
        [posted] = am.bodies()
        assert isinstance(posted, list)
        assert posted[0]["labels"] == {
            "alertname": "oom",
            "severity": "critical",
            "instance": "node-1",
            "service_name": "payment",
            "team": "payments",
        }
        assert posted[0]["annotations"]["summary"] == "payment: java.lang.OutOfMemoryError: heap"
        [text] = slack.bodies()
        assert text == {
            "text": ":rotating_light: *FIRING* `oom` (critical) [service.name=payment] on node-1\n"
            "payment: java.lang.OutOfMemoryError: heap"
        }


def test_queued_notifications_and_rule_state_move_to_a_new_runtime(
    hook: WebhookServer, tmp_path: Path
) -> None:
    hook.down()
    clock = Clock()
    old = AlertRuntime(settings(hook.url), "node-1", tmp_path, Metrics(), clock=clock)
    old.engine.observe("app", records(T0, "a", 20) + records(T0, "b", 19))
    assert old.destinations[0].outbox.events == 1  # never started: nothing taken yet
    new = AlertRuntime(settings(hook.url), "node-1", tmp_path, Metrics(), clock=clock)
    new.adopt(old)
    old.close(0.1)
    hook.up()
    new.start()
    try:
        new.engine.observe("app", records(T0 + 1, "b", 1))  # b's 20th, across the hand-over
        new.engine.observe("app", records(T0 + 1, "a", 5))  # a is silenced
        wait_until(lambda: len(hook.delivered()) == 2, timeout=30, message="both alerts")
        assert [b["group"]["service.name"] for b in hook.bodies()] == ["a", "b"]
    finally:
        new.close(1.0)
