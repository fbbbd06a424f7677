"""CountSet.observe: new groups below their threshold are seeded in C, counts of groups that
stay below it or fire silenced are counted into their windows in C, every other count goes to
the engine's Python loop, and the engine ends in exactly the state the Python loop alone would
leave: the same tables (keys, order, windows, last records and updates), counters and
notifications."""

from __future__ import annotations

import random
from typing import Any

import pytest

from logship.observe.alerts import engine as engine_module
from logship.observe.alerts import runs
from logship.observe.alerts.engine import AlertEngine
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.settings import AlertRuleSettings
from logship.tail.framing import LineFramer
from parsers import native_chunk
from parsers.selection import Counted, CountSet
from tests.observe.alerts.test_alerts_selected import END, FILE, READ_TIME, STAMPS, nginx_chain

pytestmark = pytest.mark.skipif(not native_chunk.ENABLED, reason="the compiled scanner is off")

PER_IP = {
    "name": "per_ip",
    "when": {"field": "status", "in": [401, 403]},
    "threshold": "count >= 3 within 1m",
    "group_by": ["source_ip"],
    "max_groups": 8,
}
PER_IP_URL = {
    "name": "per_ip_url",
    "when": {"field": "status", "gte": 400},
    "threshold": "count >= 2 within 1m",
    "group_by": ["source_ip", "url"],
    "max_groups": 5,
    "silence": "0s",
}
EVERY_ONE = {"name": "every_one", "when": {"field": "status", "equals": 403}}
NO_GROUPS = {
    "name": "no_groups",
    "when": {"field": "status", "equals": 401},
    "threshold": "count >= 4 within 1m",
}


def stamp(t: float) -> str:
    import time

    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def log_chunks(seed: int) -> list[Any]:
    """Failed logins from a small pool of addresses (groups come back, grow, fire and are
    evicted), now and then a burst from one address in one chunk, and lines too old to count."""
    rng = random.Random(seed)
    text = []
    for i in range(3000):
        t = END - 100 + i // 30 if rng.random() > 0.05 else END - 400  # some are late
        ip = f"10.0.0.{rng.randrange(40)}"
        burst = 4 if rng.random() < 0.02 else 1
        status = rng.choice([200, 401, 403, 404])
        url = rng.choice(["/login", "/admin"])
        for _ in range(burst):
            text.append(f'{ip} - - [{stamp(t)}] "POST {url} HTTP/1.1" {status} 12 "-" "curl/8"\n')
    data = "".join(text).encode()
    framer = LineFramer(0, 1 << 20)
    return [framer.feed(data[i : i + 8192]) for i in range(0, len(data), 8192)]


def growing_chunks(seed: int) -> list[Any]:
    """Groups that grow for long below a high threshold and are evicted from a small table,
    groups that fire and stay silenced for a while, records that go back in time past a
    window (too old for it, yet not late), and chunks that span several seconds."""
    rng = random.Random(seed)
    text = []
    for i in range(3000):
        t = END - 60 + i // 60
        if rng.random() < 0.05:
            t -= 65 + rng.randrange(3)  # older than the window of the group's newest record
        ip = f"10.0.0.{rng.randrange(12)}"
        status = rng.choice([401, 403, 404, 500])
        text.append(f'{ip} - - [{stamp(t)}] "GET /x HTTP/1.1" {status} 12 "-" "curl/8"\n')
    data = "".join(text).encode()
    framer = LineFramer(0, 1 << 20)
    return [framer.feed(data[i : i + 4096]) for i in range(0, len(data), 4096)]


GROWING = {
    "name": "growing",
    "when": {"field": "status", "in": [401, 403]},
    "threshold": "count >= 40 within 1m",
    "group_by": ["source_ip"],
    "max_groups": 6,
}
SILENCED = {
    "name": "silenced",
    "when": {"field": "status", "gte": 403},
    "threshold": "count >= 3 within 1m",
    "group_by": ["source_ip"],
    "max_groups": 9,
    "silence": "4s",
    "resolve_after": "3s",
}
ONE_GROUP = {
    "name": "one_group",
    "when": {"field": "status", "equals": 500},
    "threshold": "count >= 400 within 1m",
}


def python_loop(rules: Any, tables: Any, count_sets: list[CountSet], chunk: runs.ChunkPass) -> None:
    """The engine's loop before CountSet.observe: every count through `observe_counts`."""
    runs.observe_counts(rules, [i for c in count_sets for i in c.items()], chunk)


def run(
    rules: list[dict[str, Any]],
    seed: int,
    chunks: Any = log_chunks,
    step: float = 0.0,
    start: float = END,
) -> tuple[AlertEngine, list[Notification], int]:
    """The engine after observing the chunks; its clock starts at `start` and moves on by
    `step` at each look."""
    sent: list[Notification] = []
    settings = [AlertRuleSettings.model_validate(r) for r in rules]
    looks = iter(range(1 << 30))
    engine = AlertEngine(settings, sent.append, "node-1", clock=lambda: start + step * next(looks))
    chain = nginx_chain(STAMPS["agent metadata"])
    selection = engine.selection("web")
    assert selection is not None
    counts = 0
    for chunk in chunks(seed):
        encoded = chain.encode(chunk, FILE, READ_TIME, select=selection)
        assert encoded is not None
        counts += len(encoded[3].counted)
        engine.observe_selected("web", encoded[3])
    return engine, sent, counts


def state(engine: AlertEngine) -> list[Any]:
    return [
        (r.name, r.table.export(), sorted(r.table.firing), r.table.evicted) for r in engine.rules
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "rules",
    [[PER_IP], [PER_IP, PER_IP_URL, EVERY_ONE, NO_GROUPS]],
    ids=["per address", "four rules"],
)
def test_seeding_in_c_leaves_the_engine_as_the_python_loop_does(
    monkeypatch: pytest.MonkeyPatch, rules: list[dict[str, Any]], seed: int
) -> None:
    handed: list[int] = []
    observe_counts = runs.observe_counts

    def counting(rules_: Any, counted: list[Counted], chunk: runs.ChunkPass) -> None:
        handed.append(len(counted))
        observe_counts(rules_, counted, chunk)

    with monkeypatch.context() as patch:
        patch.setattr(runs, "observe_counts", counting)
        compiled, compiled_sent, counts = run(rules, seed)
    with monkeypatch.context() as patch:
        patch.setattr(engine_module, "observe_count_sets", python_loop)
        python, python_sent, _ = run(rules, seed)
    assert 0 < sum(handed) < counts, "C seeded some counts and handed the others over"
    assert state(compiled) == state(python)
    assert compiled.counters() == python.counters()
    assert compiled_sent == python_sent
    per_ip = compiled.counters()[0]
    assert per_ip["evicted"] > 0
    assert per_ip["firing"] > 0
    assert per_ip["late"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "start",
    # A clock ahead of the log: firing groups resolve. A clock near it: records that went
    # back in time are too old for their group's window, yet not late.
    [END, END - 40],
    ids=["groups resolve", "records too old for their window"],
)
def test_counting_into_groups_in_c_leaves_the_engine_as_the_python_loop_does(
    monkeypatch: pytest.MonkeyPatch, seed: int, start: float
) -> None:
    handed: list[int] = []
    observe_counts = runs.observe_counts

    def counting(rules_: Any, counted: list[Counted], chunk: runs.ChunkPass) -> None:
        handed.append(len(counted))
        observe_counts(rules_, counted, chunk)

    rules = [GROWING, SILENCED, ONE_GROUP]
    with monkeypatch.context() as patch:
        patch.setattr(runs, "observe_counts", counting)
        compiled, compiled_sent, counts = run(rules, seed, growing_chunks, 1.0, start)
    with monkeypatch.context() as patch:
        patch.setattr(engine_module, "observe_count_sets", python_loop)
        python, python_sent, _ = run(rules, seed, growing_chunks, 1.0, start)
    assert sum(handed) < counts * 0.6, "C counted many counts into their groups"
    assert state(compiled) == state(python)
    assert compiled.counters() == python.counters()
    assert compiled_sent == python_sent
    growing, silenced, one_group = compiled.counters()
    assert growing["evicted"] > 0
    assert growing["late"] > 0
    assert silenced["firing"] > 0
    assert silenced["late"] > 0
    assert one_group["matches"] > 0
    resolved = {n.status for n in compiled_sent} == {"firing", "resolved"}
    assert resolved == (start == END)


def test_a_count_set_refuses_seeders_that_do_not_fit_its_conditions() -> None:
    settings = [AlertRuleSettings.model_validate(PER_IP)]
    engine = AlertEngine(settings, lambda n: None, "node-1", clock=lambda: END)
    chain = nginx_chain(None)
    selection = engine.selection("web")
    encoded = chain.encode(log_chunks(1)[0], FILE, READ_TIME, select=selection)
    assert encoded is not None
    count_set = encoded[3].count_sets[0]
    with pytest.raises(ValueError, match="one table"):
        count_set.observe((None, None), END, lambda s: None, lambda c: None)
    with pytest.raises(TypeError):
        count_set.observe((("not", "a", "table"),), END, lambda s: None, lambda c: None)
