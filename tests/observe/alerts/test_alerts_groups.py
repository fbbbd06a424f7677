"""The group table: groups seen again (LRU, `max_groups`) and the seeds of groups seen once,
kept apart (oldest dropped first, `max_groups` too), which must behave exactly as the Groups
they stand for (counting, idling, hand-over); the compiled SeedTable and the Python one alike."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logship.observe.alerts.group import Group, GroupTable
from logship.observe.alerts.seeds import PySeedTable
from parsers import native_chunk


@pytest.fixture(params=["compiled", "python"])
def seeds_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with each SeedTable: the compiled one (when built) and PySeedTable."""
    if request.param == "compiled" and not native_chunk.ENABLED:
        pytest.skip("the extension is not built")
    if request.param == "python":
        monkeypatch.setattr(native_chunk, "ENABLED", False)
    return str(request.param)


def test_a_seed_grows_into_the_group_it_stands_for(seeds_kind: str) -> None:
    table = GroupTable(max_groups=10, width=60.0, need=5)
    assert table.seed(("10.0.0.1",), 100.0, 3, 101.0)
    assert not table.seed(("10.0.0.1",), 100.0, 1, 101.0)  # not new: nothing done
    assert len(table) == 1
    group = table.get(("10.0.0.1",))
    assert isinstance(group, Group)
    assert list(group.window.entries) == [[100.0, 3]]
    assert group.window.total == 3
    assert group.last_update == 101.0
    assert group.last_record is None
    assert not group.firing
    assert table.get(("10.0.0.1",)) is group  # grown once
    assert ("10.0.0.1",) not in table.seeds
    assert len(table) == 1
    assert not table.seed(("10.0.0.1",), 100.0, 1, 101.0)  # a group now: not new either


def test_seeds_are_dropped_oldest_first_and_groups_evicted_least_recently_matched(
    seeds_kind: str,
) -> None:
    table = GroupTable(max_groups=3, width=60.0, need=5)
    firing = table.get(("a",))
    firing.firing = True
    table.firing[("a",)] = firing
    for key in "bcd":
        table.seed((key,), 10.0, 1, 11.0)
    assert [k for k, _ in table.seeds.items()] == [("b",), ("c",), ("d",)]
    assert list(table.groups) == [("a",)]  # one-off keys never push a group out
    table.seed(("e",), 10.0, 1, 11.0)
    assert [k for k, _ in table.seeds.items()] == [("c",), ("d",), ("e",)]
    assert table.evicted == 1  # "b", dropped unseen
    for key in "cdf":
        table.get((key,))  # seen again (or new): groups
    assert list(table.groups) == [("c",), ("d",), ("f",)]
    assert table.evicted == 2  # "a", the least recently matched group
    assert table.firing == {}  # the evicted firing group no longer fires
    assert [k for k, _ in table.seeds.items()] == [("e",)]


def test_a_flood_of_one_off_keys_leaves_the_groups_that_came_back(seeds_kind: str) -> None:
    table = GroupTable(max_groups=100, width=60.0, need=20)
    attackers = [(f"203.0.113.{i}",) for i in range(5)]
    for key in attackers:
        table.seed(key, 10.0, 1, 10.0)
        table.get(key)  # seen again: a group
    for i in range(10_000):
        table.seed((f"10.{i // 256}.{i % 256}.1",), 10.0, 1, 10.0)
    assert all(key in table.groups for key in attackers)
    assert len(table.seeds) == 100
    assert table.evicted == 10_000 - 100


def test_idle_seeds_are_forgotten_and_exported_as_groups(seeds_kind: str) -> None:
    table = GroupTable(max_groups=10, width=60.0, need=5)
    table.seed(("old",), 10.0, 2, 11.0)
    table.seed(("new",), 500.0, 1, 501.0)
    table.get(("grown",)).last_update = 600.0
    exported = table.export()
    assert [g["key"] for g in exported] == [["old"], ["new"], ["grown"]]
    assert exported[0]["entries"] == [[10.0, 2]]
    assert exported[0]["total"] == 2
    assert exported[0]["last_update"] == 11.0
    other = GroupTable(max_groups=10, width=60.0, need=5)
    other.restore(exported)
    assert [k for k, _ in other.seeds.items()] == [("old",), ("new",)]  # seeds stay seeds
    assert other.seeds.items()[0][1] == (10.0, 2, 11.0)
    assert list(other.groups) == [("grown",)]
    assert other.get(("old",)).window.total == 2
    table.forget_idle(now=400.0, horizon=300.0)
    assert [k for k, _ in table.seeds.items()] == [("new",)]
    assert list(table.groups) == [("grown",)]


# --- the compiled SeedTable against PySeedTable ---------------------------------------------

KEYS = st.tuples(
    st.sampled_from(["10.0.0.1", "10.0.0.2", "", "é", "x" * 45, "/a/b", "10.0.0.1 "])
) | st.tuples(st.sampled_from(["GET", "POST"]), st.sampled_from(["/", "/login", "ü" * 30]))
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), KEYS, st.floats(0, 1e9), st.integers(1, 99), st.floats(0, 1e9)),
        st.tuples(st.just("take"), KEYS),
        st.tuples(st.just("has"), KEYS),
        st.tuples(st.just("forget"), st.floats(0, 1e9)),
        st.tuples(st.just("join"), KEYS),
        st.tuples(st.just("leave"), KEYS),
    ),
    max_size=60,
)
MANY = st.lists(st.tuples(st.integers(0, 400), st.booleans()), max_size=600)


def _apply(table: Any, op: tuple[Any, ...], groups: set[Any] | None = None) -> Any:
    """One operation, as the group table makes them: a key of a group (`join`ed, not yet
    `leave`d) is never seeded (`put`) nor taken."""
    name = op[0]
    groups = set() if groups is None else groups
    if name in ("put", "take") and op[1] in groups:
        return "a group's"
    if name == "join":
        groups.add(op[1])
        return table.join(op[1])
    if name == "leave":
        groups.discard(op[1])
        return table.leave(op[1])
    if name == "put":
        try:
            return table.put(*op[1:])
        except KeyError:
            return "held"
    if name == "take":
        return table.take(op[1])
    if name == "has":
        return op[1] in table
    return table.forget(op[1])


@pytest.mark.skipif(not native_chunk.ENABLED, reason="the extension is not built")
@settings(max_examples=200, deadline=None)
@given(st.sampled_from([1, 2, 3, 4, 70, 200]), OPS)
def test_the_compiled_seed_table_answers_as_the_python_one(
    capacity: int, ops: list[tuple[Any, ...]]
) -> None:
    compiled = native_chunk._fastscan.SeedTable(capacity)
    python = PySeedTable(capacity)
    groups: set[Any] = set()
    for op in ops:
        assert _apply(compiled, op, groups) == _apply(python, op, set(groups)), op
        assert compiled.items() == python.items()
        assert len(compiled) == len(python)
    assert compiled.capacity == capacity


@pytest.mark.skipif(not native_chunk.ENABLED, reason="the extension is not built")
def test_the_compiled_seed_table_refuses_keys_that_are_not_tuples_of_text() -> None:
    table = native_chunk._fastscan.SeedTable(2)
    with pytest.raises(TypeError):
        table.put(["10.0.0.1"], 1.0, 1, 1.0)
    with pytest.raises(TypeError):
        table.put((1,), 1.0, 1, 1.0)
    with pytest.raises(ValueError, match="at least one"):
        native_chunk._fastscan.SeedTable(0)


@pytest.mark.skipif(not native_chunk.ENABLED, reason="the extension is not built")
@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 63, 64, 65, 150, 1000]), MANY)
def test_a_growing_compiled_seed_table_answers_as_the_python_one(
    capacity: int, ops: list[tuple[int, bool]]
) -> None:
    # Many keys: its entries and index grow by doubling (up to the capacity) as it fills.
    compiled = native_chunk._fastscan.SeedTable(capacity)
    python = PySeedTable(capacity)
    groups: set[Any] = set()
    for number, put in ops:
        key = (f"10.0.{number // 256}.{number % 256}",)
        op = ("put", key, float(number), 1, float(number)) if put else ("take", key)
        if number % 5 == 0:  # every fifth key becomes a group's, and every tenth leaves again
            op = ("join", key) if put or number % 10 else ("leave", key)
        assert _apply(compiled, op, groups) == _apply(python, op, set(groups)), op
    assert compiled.items() == python.items()
    assert all((key in compiled) == (key in python) for key, _ in python.items())
    # What the compiled counts read of a key survives the index growing: a group's key stays
    # known as one, a seed as one, anything else unknown.
    seeds = {key for key, _ in python.items()}
    for number in range(401):
        key = (f"10.0.{number // 256}.{number % 256}",)
        assert compiled.knows(key) == (2 if key in groups else 1 if key in seeds else 0)


@pytest.mark.skipif(not native_chunk.ENABLED, reason="the extension is not built")
def test_group_keys_and_seeds_stay_known_while_the_compiled_table_grows() -> None:
    table = native_chunk._fastscan.SeedTable(1000)
    groups = [(f"10.1.0.{i}",) for i in range(150)]
    seeds = [(f"10.2.{i // 256}.{i % 256}",) for i in range(400)]
    for i, key in enumerate(groups):
        table.join(key)
        table.put(seeds[i], 1.0, 1, 1.0)  # interleaved: the index grows with both in it
    for key in seeds[150:]:
        table.put(key, 1.0, 1, 1.0)
    assert [table.knows(k) for k in groups] == [2] * 150
    assert [table.knows(k) for k in seeds] == [1] * 400
    assert table.knows(("10.3.0.1",)) == 0
    assert len(table) == 400
    for key in groups[::2]:
        table.leave(key)
    assert [table.knows(k) for k in groups] == [0, 2] * 75
