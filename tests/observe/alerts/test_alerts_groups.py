"""The group table's seeds: a new group below its threshold kept as a tuple until seen again,
which must behave exactly as the Group it stands for (counting, eviction, idling, hand-over)."""

from __future__ import annotations

from logship.observe.alerts.group import Group, GroupTable


def test_a_seed_grows_into_the_group_it_stands_for() -> None:
    table = GroupTable(max_groups=10, width=60.0, need=5)
    assert table.seed(("10.0.0.1",), 100.0, 3, 101.0)
    assert not table.seed(("10.0.0.1",), 100.0, 1, 101.0)  # not new: nothing done
    group = table.get(("10.0.0.1",))
    assert isinstance(group, Group)
    assert list(group.window.entries) == [[100.0, 3]]
    assert group.window.total == 3
    assert group.last_update == 101.0
    assert group.last_record is None
    assert not group.firing
    assert table.get(("10.0.0.1",)) is group  # grown once


def test_seeds_are_evicted_least_recently_matched_first_and_counted() -> None:
    table = GroupTable(max_groups=3, width=60.0, need=5)
    firing = table.get(("a",))
    firing.firing = True
    table.firing[("a",)] = firing
    for key in "bcd":
        table.seed((key,), 10.0, 1, 11.0)
    assert list(table.groups) == [("b",), ("c",), ("d",)]
    assert table.evicted == 1
    assert table.firing == {}  # the evicted firing group no longer fires
    table.get(("b",))  # seen again: the newest
    table.seed(("e",), 10.0, 1, 11.0)
    assert list(table.groups) == [("d",), ("b",), ("e",)]
    assert table.evicted == 2


def test_idle_seeds_are_forgotten_and_exported_as_groups() -> None:
    table = GroupTable(max_groups=10, width=60.0, need=5)
    table.seed(("old",), 10.0, 2, 11.0)
    table.seed(("new",), 500.0, 1, 501.0)
    exported = table.export()
    assert [g["key"] for g in exported] == [["old"], ["new"]]
    assert exported[0]["entries"] == [[10.0, 2]]
    assert exported[0]["total"] == 2
    other = GroupTable(max_groups=10, width=60.0, need=5)
    other.restore(exported)
    assert other.get(("old",)).window.total == 2
    table.forget_idle(now=400.0, horizon=300.0)
    assert list(table.groups) == [("new",)]
