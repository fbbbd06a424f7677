"""Handoff: chunks go from the tailer to the alerts thread in order, bounded, never dropped.

Before it is opened and after it is closed a chunk is evaluated where it is handed over; a
full hand-off makes the tailer wait; closing evaluates what is queued first; an error in one
chunk is logged and the next ones are still evaluated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from logship.observe.alerts.handoff import Handoff
from tests.harness import wait_until


class Recorder:
    """Evaluates by recording (chunk, thread name); blocks while `gate` is clear."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, chunks: list[int]) -> None:
        self.gate.wait(30)
        for chunk in chunks:
            if chunk < 0:
                raise ValueError("a bad chunk")
            self.seen.append((chunk, threading.current_thread().name))


@pytest.fixture
def served() -> Iterator[tuple[Handoff[int], Recorder, list[int]]]:
    recorder = Recorder()
    handoff: Handoff[int] = Handoff(recorder, capacity=3, batch=2)
    ticks: list[int] = []
    handoff.open()
    thread = threading.Thread(
        target=handoff.serve, args=(lambda: ticks.append(1), 0.01), name="alerts"
    )
    thread.start()
    yield handoff, recorder, ticks
    recorder.gate.set()
    handoff.close()
    thread.join(30)
    assert not thread.is_alive()


def test_before_it_is_opened_a_chunk_is_evaluated_where_it_is_handed_over() -> None:
    recorder = Recorder()
    handoff: Handoff[int] = Handoff(recorder)
    handoff.put(1)
    assert recorder.seen == [(1, threading.current_thread().name)]
    assert handoff.flush(1)


def test_chunks_are_evaluated_in_order_on_the_alerts_thread(served: Any) -> None:
    handoff, recorder, ticks = served
    for chunk in range(50):
        handoff.put(chunk)
    assert handoff.flush(30)
    assert recorder.seen == [(chunk, "alerts") for chunk in range(50)]
    wait_until(lambda: len(ticks) >= 2, timeout=30, message="ticks while idle")


def test_a_full_handoff_makes_the_tailer_wait_and_loses_nothing(served: Any) -> None:
    handoff, recorder, _ = served
    recorder.gate.clear()  # the alerts thread is stuck in chunk 0
    handoff.put(0)
    wait_until(lambda: len(handoff) == 0, timeout=30, message="chunk 0 taken")
    for chunk in range(1, 4):
        handoff.put(chunk)  # three wait: the capacity
    tailer = threading.Thread(target=handoff.put, args=(4,))
    tailer.start()
    wait_until(lambda: handoff.waits == 1, timeout=30, message="the tailer waiting")
    assert tailer.is_alive()
    assert len(handoff) == 3
    recorder.gate.set()
    tailer.join(30)
    assert handoff.flush(30)
    assert [chunk for chunk, _ in recorder.seen] == [0, 1, 2, 3, 4]


def test_close_evaluates_what_is_queued_then_hands_over_inline(served: Any) -> None:
    handoff, recorder, _ = served
    recorder.gate.clear()
    for chunk in range(3):
        handoff.put(chunk)
    handoff.close()
    # a chunk handed over while closing waits for the queued ones: the order is kept
    late = threading.Thread(target=handoff.put, args=(3,), name="tailer")
    late.start()
    recorder.gate.set()
    late.join(30)
    assert handoff.flush(30)
    assert recorder.seen == [(0, "alerts"), (1, "alerts"), (2, "alerts"), (3, "tailer")]


def test_an_error_in_one_chunk_is_logged_and_the_next_are_evaluated(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    handoff, recorder, _ = served
    for chunk in (1, -1, 2):
        handoff.put(chunk)
        assert handoff.flush(30)
    assert [chunk for chunk, _ in recorder.seen] == [1, 2]
    assert "Alert evaluation failed." in caplog.text
