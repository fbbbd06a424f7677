"""PollSchedule: files come due in time order, each at its latest time, each once."""

from __future__ import annotations

from logship.tail.poll_schedule import PollSchedule


def test_due_files_come_earliest_first_and_only_once() -> None:
    polls = PollSchedule()
    polls.set("b", 2.0)
    polls.set("a", 1.0)
    polls.set("c", 5.0)
    assert polls.due(0.5) == []
    assert polls.due(2.0) == ["a", "b"]
    assert polls.due(2.0) == [], "taken keys are due again only once set again"
    assert polls.next() == 5.0
    assert len(polls) == 1


def test_a_new_time_replaces_the_old_one_earlier_or_later() -> None:
    polls = PollSchedule()
    polls.set("later", 1.0)
    polls.set("later", 9.0)
    polls.set("sooner", 8.0)
    polls.set("sooner", 0.5)
    assert polls.next() == 0.5
    assert polls.due(1.0) == ["sooner"]
    assert polls.next() == 9.0
    assert polls.when("later") == 9.0
    assert polls.due(9.0) == ["later"]
    assert polls.next() is None


def test_a_removed_key_never_comes_due() -> None:
    polls = PollSchedule()
    polls.set("closed", 1.0)
    polls.set("open", 2.0)
    polls.remove("closed")
    assert polls.when("closed") is None
    assert polls.next() == 2.0
    assert polls.due(10.0) == ["open"]


def test_replaced_entries_do_not_pile_up() -> None:
    polls = PollSchedule()
    for n in range(10_000):  # a woken file rescheduled over and over, never due meanwhile
        polls.set("woken", 1_000_000.0 - n)
    assert len(polls._heap) <= 4 * len(polls) + 65
    assert polls.due(1_000_000.0) == ["woken"]
