"""The alert engine with an injected clock: thresholds, sliding windows, groups, silence, resolve,
bounded groups, and the hand-over of its state to a new engine (config reload)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.core.record import format_epoch
from logship.observe.alerts.engine import LATENESS, AlertEngine
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.settings import AlertRuleSettings

T0 = 1_764_000_000.0
ERROR = {"field": "log.level", "equals": "error"}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rule(**options: Any) -> AlertRuleSettings:
    doc = {"name": "errors", "when": ERROR, **options}
    return AlertRuleSettings.model_validate(doc)


def record(t: float, service: str = "payment", level: str = "error", n: int = 0) -> dict[str, Any]:
    return {
        "@timestamp": format_epoch(t),
        "message": f"boom {n}",
        "log": {"level": level},
        "service": {"name": service},
    }


class Harness:
    def __init__(self, *rules: AlertRuleSettings) -> None:
        self.clock = Clock()
        self.sent: list[Notification] = []
        self.engine = AlertEngine(list(rules), self.sent.append, "node-1", self.clock)

    def feed(self, t: float, **fields: Any) -> list[Notification]:
        """One record at event time t, read at t."""
        before = len(self.sent)
        self.clock.now = max(self.clock.now, t)
        self.engine.observe("app", [record(t, **fields)])
        return self.sent[before:]

    def tick(self, now: float) -> list[Notification]:
        before = len(self.sent)
        self.clock.now = now
        self.engine.tick()
        return self.sent[before:]

    def firing(self) -> list[Notification]:
        return [n for n in self.sent if n.status == "firing"]


def test_19_errors_in_60s_do_not_fire_and_20_do() -> None:
    h = Harness(
        rule(
            threshold="count >= 20 within 60s",
            group_by=["service.name"],
            message="{service.name}: {count} errors in {window}, last: {message}",
        )
    )
    for i in range(19):
        assert h.feed(T0 + i * 3, n=i) == []
    [fired] = h.feed(T0 + 57, n=19)
    assert fired.status == "firing"
    assert fired.message == "payment: 20 errors in 1m, last: boom 19"
    assert fired.count == 20
    assert fired.group == (("service.name", "payment"),)
    assert fired.at == T0 + 57
    assert fired.starts_at == T0 + 57


def test_the_window_edge_counts_once_a_record_exactly_60s_older_is_out() -> None:
    h = Harness(rule(threshold={"count": 20, "within": "60s"}))
    h.feed(T0)
    for i in range(1, 19):
        h.feed(T0 + i)
    # The 20th record is exactly 60 s after the first: the window (T0, T0+60] holds 19.
    assert h.feed(T0 + 60) == []
    assert h.sent == []
    # One more in the same window makes 20.
    [fired] = h.feed(T0 + 60)
    assert fired.count == 20


def test_the_window_slides_old_records_stop_counting() -> None:
    h = Harness(rule(threshold="count >= 20 within 60s"))
    for i in range(10):
        h.feed(T0 + i)
    for i in range(10):
        h.feed(T0 + 55 + i)  # at T0+64 the window (4, 64] holds 5 + 10
    assert h.sent == []
    for _ in range(4):
        h.feed(T0 + 65)  # (5, 65] holds 4 + 10 + 4 = 18
    assert h.sent == []
    h.feed(T0 + 65)
    assert h.sent == []  # 19
    [fired] = h.feed(T0 + 65)
    assert fired.count == 20


def test_records_of_the_same_millisecond_each_count() -> None:
    h = Harness(rule(threshold="count >= 20 within 60s"))
    h.clock.now = T0
    h.engine.observe("app", [record(T0) for _ in range(19)])
    assert h.sent == []
    h.engine.observe("app", [record(T0)])
    assert [n.count for n in h.sent] == [20]


def test_groups_count_independently() -> None:
    h = Harness(rule(threshold="count >= 20 within 60s", group_by=["service.name"]))
    for i in range(19):
        h.feed(T0 + i, service="payment")
        h.feed(T0 + i, service="search")
    assert h.sent == []
    [fired] = h.feed(T0 + 20, service="search")
    assert fired.group == (("service.name", "search"),)
    [fired] = h.feed(T0 + 21, service="payment")
    assert fired.group == (("service.name", "payment"),)
    assert len(h.sent) == 2


def test_one_notification_per_group_per_silence_window() -> None:
    h = Harness(rule(threshold="count >= 5 within 10s", silence="2m", group_by=["service.name"]))
    for k in range(600):  # a steady storm of 10 errors/s for a minute per service
        h.feed(T0 + k / 10, service="a")
        h.feed(T0 + k / 10, service="b")
    assert [(n.group, n.at) for n in h.firing()] == [
        ((("service.name", "a"),), T0 + 0.4),
        ((("service.name", "b"),), T0 + 0.4),
    ]
    for k in range(600, 1300):  # past the silence (2 min after the first firing): again
        h.feed(T0 + k / 10, service="a")
        h.feed(T0 + k / 10, service="b")
    firing = h.firing()
    assert len(firing) == 4
    assert firing[2].at == T0 + 120.4
    assert firing[2].starts_at == T0 + 0.4  # still the same incident


def test_a_quiet_period_resolves_once_and_at_the_right_time() -> None:
    h = Harness(rule(threshold="count >= 3 within 10s", resolve_after="30s"))
    for i in range(3):
        h.feed(T0 + i)
    [fired] = h.firing()
    # The threshold stops holding at T0 + 0 + 10 (the oldest of the last 3 leaves the window).
    assert h.tick(T0 + 39.9) == []
    [resolved] = h.tick(T0 + 45)
    assert resolved.status == "resolved"
    assert resolved.at == T0 + 40
    assert resolved.ends_at == T0 + 40
    assert resolved.starts_at == fired.starts_at
    assert resolved.message == "errors: resolved"
    assert h.tick(T0 + 100) == []


def test_a_trickle_below_the_threshold_resolves_too() -> None:
    h = Harness(rule(threshold="count >= 3 within 10s", resolve_after="30s", silence="1h"))
    for i in range(3):
        h.feed(T0 + i)
    for i in range(1, 10):
        h.feed(T0 + 2 + i * 6)  # one every 6 s: never 3 in 10 s
    resolved = [n for n in h.sent if n.status == "resolved"]
    # 0, 1, 2 and 8 are in the window until 1 leaves it at T0 + 11: 30 s after that.
    assert [n.at for n in resolved] == [T0 + 41]


def test_a_new_burst_in_the_silence_after_a_resolve_is_not_sent() -> None:
    h = Harness(rule(threshold="count >= 2 within 10s", resolve_after="10s", silence="10m"))
    h.feed(T0)
    h.feed(T0 + 1)
    assert len(h.tick(T0 + 30)) == 1  # resolved
    h.feed(T0 + 60)
    h.feed(T0 + 61)
    assert len(h.firing()) == 1
    h.feed(T0 + 600.5)
    h.feed(T0 + 601)
    assert len(h.firing()) == 2


def test_without_threshold_the_first_match_fires() -> None:
    h = Harness(rule(silence="1m"))
    [fired] = h.feed(T0)
    assert fired.count == 1
    assert h.feed(T0 + 30) == []
    assert h.tick(T0 + 30 + 300) == []
    [resolved] = h.tick(T0 + 30 + 301)
    assert resolved.at == pytest.approx(T0 + 30 + 300.001)


def test_records_that_do_not_match_cost_nothing_and_count_nothing() -> None:
    h = Harness(rule())
    h.engine.observe("app", [record(T0, level="info") for _ in range(100)])
    assert h.sent == []
    assert h.engine.counters()[0]["matches"] == 0


def test_records_read_too_late_do_not_count_and_future_ones_count_as_now() -> None:
    h = Harness(rule(threshold="count >= 2 within 60s"))
    h.clock.now = T0 + 60 + LATENESS + 1
    h.engine.observe("app", [record(T0), record(T0)])
    assert h.sent == []
    assert h.engine.counters()[0]["late"] == 2
    h.engine.observe("app", [record(T0 + 1e6), record(T0 + 1e6)])
    [fired] = h.sent
    assert fired.at == h.clock.now


def test_records_out_of_order_within_the_window_count() -> None:
    h = Harness(rule(threshold="count >= 3 within 10s"))
    h.feed(T0 + 5)
    h.feed(T0 + 1)
    assert h.sent == []
    [fired] = h.feed(T0 + 3)
    assert fired.count == 3


def test_groups_are_bounded_the_oldest_is_evicted_and_counted() -> None:
    h = Harness(rule(threshold="count >= 2 within 60s", group_by=["service.name"], max_groups=3))
    for name in ("a", "b", "c", "d"):
        h.feed(T0, service=name)
    counters = h.engine.counters()[0]
    assert counters["groups"] == 3
    assert counters["evicted"] == 1
    h.feed(T0 + 1, service="a")  # a was evicted: this is its first record again
    assert h.sent == []
    h.feed(T0 + 1, service="d")
    assert [n.group for n in h.sent] == [(("service.name", "d"),)]


def test_idle_groups_are_forgotten() -> None:
    h = Harness(rule(threshold="count >= 5 within 10s", group_by=["service.name"], silence="0s"))
    for name in ("a", "b"):
        h.feed(T0, service=name)
    h.tick(T0 + 3600)
    assert h.engine.counters()[0]["groups"] == 0


def test_state_is_handed_to_a_new_engine_by_rule_name() -> None:
    settings = rule(threshold="count >= 20 within 60s", group_by=["service.name"], silence="10m")
    old = Harness(settings, rule(name="other", when={"field": "x", "exists": True}))
    for i in range(19):
        old.feed(T0 + i, service="a")
    for i in range(20):
        old.feed(T0 + i, service="b")
    assert [n.group for n in old.sent] == [(("service.name", "b"),)]

    new = Harness(settings, rule(name="renamed", when=ERROR))
    new.clock.now = old.clock.now
    dropped = new.engine.adopt(old.engine.export())
    assert dropped == ["other"]
    [fired] = [n for n in new.feed(T0 + 20, service="a") if n.rule == "errors"]
    assert fired.count == 20  # the 20th record of a, counted across engines
    assert [n for n in new.feed(T0 + 21, service="b") if n.rule == "errors"] == []  # silenced
    [resolved] = [n for n in new.tick(T0 + 200) if n.group == (("service.name", "b"),)]
    assert resolved.status == "resolved"
    assert resolved.starts_at == T0 + 19
    counters = {c["rule"]: c for c in new.engine.counters()}
    assert counters["errors"]["matches"] == 41
    assert counters["errors"]["firing"] == 2


def test_a_rule_grouped_differently_after_a_reload_starts_afresh() -> None:
    old = Harness(rule(threshold="count >= 2 within 60s", group_by=["service.name"]))
    old.feed(T0)
    new = Harness(rule(threshold="count >= 2 within 60s"))
    assert new.engine.adopt(old.engine.export()) == ["errors"]
    new.clock.now = T0
    assert new.feed(T0) == []


def test_inputs_limit_which_records_a_rule_sees() -> None:
    h = Harness(rule(inputs=["web"]))
    h.engine.observe("app", [record(T0)])
    assert h.sent == []
    h.engine.observe("web", [record(T0)])
    assert len(h.sent) == 1


def test_a_missing_template_field_renders_as_a_dash() -> None:
    h = Harness(rule(message="{service.name} on {kubernetes.pod.name}: {count}"))
    [fired] = h.feed(T0)
    assert fired.message == "payment on -: 1"


def _signature(n: Notification) -> tuple[Any, ...]:
    return (n.rule, n.status, n.group, n.message, n.count, n.at, n.starts_at, n.ends_at)


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), st.booleans()),
        max_size=120,
    ),
    st.sampled_from([0.0, 30.0]),
)
def test_a_chunk_decides_exactly_as_its_records_one_by_one(
    events: list[tuple[str, int, bool]], silence: float
) -> None:
    """Records of a chunk are counted in runs (per group, per timestamp); the notifications,
    their counts and the record their message shows are those of one record at a time."""
    rules = [
        rule(
            threshold="count >= 5 within 2s",
            group_by=["service.name"],
            silence=f"{silence}s",
            message="{service.name} {count} {message}",
        ),
        rule(name="all", threshold="count >= 7 within 3s", silence=f"{silence}s"),
    ]
    records = [
        record(T0 + dt, service, "error" if error else "info", n)
        for n, (service, dt, error) in enumerate(events)
    ]
    now = T0 + 3
    one_by_one = Harness(*rules)
    one_by_one.clock.now = now
    for r in records:
        one_by_one.engine.observe("app", [r])
    chunked = Harness(*rules)
    chunked.clock.now = now
    chunked.engine.observe("app", records)
    expected = sorted(map(_signature, one_by_one.sent))
    assert sorted(map(_signature, chunked.sent)) == expected
    assert chunked.engine.counters() == one_by_one.engine.counters()


def test_a_run_of_one_timestamp_fires_at_the_record_that_crosses_the_threshold() -> None:
    h = Harness(rule(threshold="count >= 20 within 60s", silence="0s", message="{count} {message}"))
    h.clock.now = T0
    h.engine.observe("app", [record(T0, n=n) for n in range(25)])
    # Without silence every record from the 20th on fires again, each with its own count.
    assert [n.message for n in h.sent] == [f"{c} boom {c - 1}" for c in range(20, 26)]
