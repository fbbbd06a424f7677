"""Writes to quiet files wake the tailer at once (one-shot inotify watches); polling remains."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.core.batch import Batch
from logship.tail import file_wake
from logship.tail.file_wake import FileWakeups
from tests.harness import wait_until
from tests.tail.test_tailer import Rig

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="inotify watches need Linux and /proc"
)


class Opened:
    """Files opened for reading, closed at the end of the test."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def __call__(self, path: Path) -> int:
        fd = os.open(path, os.O_RDONLY)
        self.fds.append(fd)
        return fd


@pytest.fixture
def wakeups() -> Iterator[tuple[FileWakeups, threading.Event, Opened]]:
    wake = threading.Event()
    watcher = FileWakeups(wake)
    opened = Opened()
    yield watcher, wake, opened
    watcher.close()
    for fd in opened.fds:
        os.close(fd)


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def collect_until(watcher: FileWakeups, key: str) -> list[str]:
    """Every key fired until `key` has fired (events arrive in the order of the writes)."""
    got: list[str] = []
    wait_until(lambda: got.extend(watcher.fired()) or key in got, timeout=10, message=key)
    return got


def test_a_watched_file_fires_once_however_often_it_is_written(
    tmp_path: Path, wakeups: tuple[FileWakeups, threading.Event, Opened]
) -> None:
    watcher, wake, opened = wakeups
    busy, other = tmp_path / "busy.log", tmp_path / "other.log"
    busy.write_text("")
    other.write_text("")
    assert watcher.arm("busy", opened(busy))
    for i in range(200):
        append(busy, f"line {i}\n")
    wait_until(wake.is_set, timeout=10, message="the wake event")
    assert collect_until(watcher, "busy") == ["busy"]
    assert not watcher.is_armed("busy")
    assert watcher.armed == 0
    # The one-shot watch is gone: more writes to busy.log fire nothing. Events arrive in write
    # order, so once other.log's event is in, none of busy.log's can still come.
    assert watcher.arm("other", opened(other))
    for i in range(200):
        append(busy, f"more {i}\n")
    append(other, "x\n")
    assert collect_until(watcher, "other") == ["other"]


def test_arming_an_armed_file_adds_no_second_watch_and_a_disarmed_file_wakes_nobody(
    tmp_path: Path, wakeups: tuple[FileWakeups, threading.Event, Opened]
) -> None:
    watcher, _, opened = wakeups
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("")
    b.write_text("")
    fd = opened(a)
    assert watcher.arm("a", fd)
    assert watcher.arm("a", fd)
    assert watcher.armed == 1
    watcher.disarm("a")
    assert watcher.armed == 0
    assert watcher.arm("b", opened(b))
    append(a, "closed meanwhile\n")
    append(b, "x\n")
    assert collect_until(watcher, "b") == ["b"]


def test_the_watch_follows_the_open_file_through_a_symlink_and_a_rename(
    tmp_path: Path, wakeups: tuple[FileWakeups, threading.Event, Opened]
) -> None:
    watcher, _, opened = wakeups
    (tmp_path / "pods").mkdir()
    (tmp_path / "containers").mkdir()
    real = tmp_path / "pods" / "0.log"
    real.write_text("first\n")
    link = tmp_path / "containers" / "app.log"
    link.symlink_to(real)
    assert watcher.arm("app", opened(link))
    rotated = real.rename(tmp_path / "pods" / "0.log.1")  # rotation: the app still writes here
    append(rotated, "written after the rename\n")
    assert collect_until(watcher, "app") == ["app"]


def test_at_the_watch_limit_files_are_left_to_polling_with_one_warning_and_a_count(
    tmp_path: Path,
    wakeups: tuple[FileWakeups, threading.Event, Opened],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher, _, opened = wakeups
    calls: list[str] = []

    def full(self: Any, fd: int, path: str, mask: int) -> int:
        calls.append(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_wake._Inotify, "add_watch", full)
    files = [tmp_path / f"{n}.log" for n in range(3)]
    for path in files:
        path.write_text("")
    with caplog.at_level(logging.WARNING, logger="logship.tail.file_wake"):
        assert [watcher.arm(p.name, opened(p)) for p in files] == [False, False, False]
    assert watcher.failures == 1
    assert len(calls) == 1, "no new watch is tried for a while"
    warnings = [r for r in caplog.records if "max_user_watches" in r.getMessage()]
    assert len(warnings) == 1


# --- the tailer -------------------------------------------------------------------------------


def quiet_rig(tmp_path: Path, **settings: Any) -> Rig:
    """A tailer whose timer never polls a quiet file again within a test (1 h backoff)."""
    return Rig(tmp_path, poll_interval="1h", scan_interval="1h", **settings)


class Clock:
    """The tailer driven round by round on this thread, with a clock the test moves."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.now = time.monotonic()

    def step_until(self, predicate: Any, advance: float, timeout: float = 20) -> None:
        """Runs rounds (moving the clock by `advance` each) until `predicate()` holds."""
        deadline = time.monotonic() + timeout
        while True:
            self.rig.tailer.run_round(self.now)
            self.rig.drain()
            if predicate():
                return
            assert time.monotonic() < deadline, "condition not reached"
            self.now += advance
            time.sleep(0.002)


def test_a_line_appended_to_a_quiet_file_is_read_by_its_wake_up_not_its_poll(
    tmp_path: Path,
) -> None:
    rig = quiet_rig(tmp_path)
    clock = Clock(rig)
    log = rig.logs / "app.log"
    log.write_text("first\n")
    clock.step_until(lambda: rig.metric("logship_files_watched") == 1, advance=1.0)
    assert rig.drain() == ["first"]
    # From here on the clock stands still: the file is never due by its timer, and no scan
    # is due either. Only the wake-up can bring the next line in.
    append(log, "after the quiet\n")
    clock.step_until(lambda: len(rig.drain()) == 2, advance=0.0)
    assert rig.drain() == ["first", "after the quiet"]
    assert rig.metric("logship_file_wakeups_total", input="app") == 1
    # Read to its end again, it is watched again for the next line at once: woken from a
    # quiet spell, it is not re-checked first (the clock still stands still).
    clock.step_until(lambda: rig.metric("logship_files_watched") == 1, advance=0.0)
    append(log, "and another\n")
    clock.step_until(lambda: len(rig.drain()) == 3, advance=0.0)
    assert rig.metric("logship_file_wakeups_total", input="app") == 2
    rig.tailer.close_all()
    assert rig.tailer._file_wake.armed == 0


def test_a_busy_file_is_not_watched(tmp_path: Path) -> None:
    rig = quiet_rig(tmp_path)
    clock = Clock(rig)
    log = rig.logs / "app.log"
    log.write_text("0\n")
    for n in range(1, 50):  # data at every re-check: followed by reading, never watched
        clock.step_until(lambda n=n: len(rig.drain()) == n, advance=0.02)
        append(log, f"{n}\n")
        assert rig.tailer._file_wake.armed == 0
    rig.tailer.close_all()


def test_poll_mode_watches_no_file_and_the_timer_still_reads_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path, watch="poll", poll_interval="1s", scan_interval="1h")
    clock = Clock(rig)
    log = rig.logs / "app.log"
    log.write_text("first\n")
    clock.step_until(lambda: len(rig.drain()) == 1, advance=1.0)
    for _ in range(10):  # quiet rounds: the backoff grows, nothing is watched
        clock.step_until(lambda: True, advance=1.0)
    assert rig.tailer._file_wake.armed == 0
    append(log, "second\n")
    clock.step_until(lambda: len(rig.drain()) == 2, advance=1.0)
    assert rig.metric("logship_file_wakeups_total", input="app") == 0
    rig.tailer.close_all()


def test_a_deleted_file_is_closed_and_no_longer_watched(tmp_path: Path) -> None:
    rig = quiet_rig(tmp_path)
    clock = Clock(rig)
    log = rig.logs / "app.log"
    log.write_text("first\n")
    clock.step_until(lambda: rig.tailer._file_wake.armed == 1, advance=1.0)
    log.unlink()
    clock.step_until(lambda: rig.tailer.open_files == 0, advance=3600.0)
    assert rig.tailer._file_wake.armed == 0
    rig.tailer.close_all()


def test_a_file_closed_as_inactive_is_reopened_by_its_next_write_not_the_next_scan(
    tmp_path: Path,
) -> None:
    rig = quiet_rig(tmp_path, close_inactive="2s")
    clock = Clock(rig)
    log = rig.logs / "app.log"
    log.write_text("first\n")
    clock.step_until(lambda: len(rig.drain()) == 1, advance=0.5)
    clock.step_until(lambda: rig.tailer.open_files == 0, advance=0.5)
    assert rig.tailer._file_wake.armed == 1
    append(log, "after the close\n")  # the next scan is an hour away; the clock stands still
    clock.step_until(lambda: len(rig.drain()) == 2, advance=0.0)
    assert rig.drain() == ["first", "after the close"]
    assert rig.metric("logship_file_wakeups_total", input="app") == 1
    rig.tailer.close_all()
    assert rig.tailer._file_wake.armed == 0


def test_a_line_written_just_before_the_watch_is_armed_is_not_left_for_the_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = quiet_rig(tmp_path)
    clock = Clock(rig)
    log = rig.logs / "app.log"
    log.write_text("first\n")
    clock.step_until(lambda: len(rig.drain()) == 1, advance=1.0)
    real_arm = rig.tailer._file_wake.arm
    armed: list[str] = []

    def arm_after_a_write(key: str, fd: int) -> bool:
        append(log, "written between the read and the watch\n")  # no event will report it
        armed.append(key)
        return real_arm(key, fd)

    monkeypatch.setattr(rig.tailer._file_wake, "arm", arm_after_a_write)
    clock.step_until(lambda: armed, advance=1.0)
    monkeypatch.undo()
    frozen = clock.now
    clock.step_until(lambda: len(rig.drain()) == 2, advance=0.0)
    assert clock.now == frozen
    rig.tailer.close_all()


def test_once_the_tailer_has_read_everything_the_sink_does_not_linger(tmp_path: Path) -> None:
    rig = quiet_rig(tmp_path).start()
    try:
        (rig.logs / "app.log").write_text("a lone line\n")
        wait_until(lambda: rig.queue.events == 1, timeout=10, message="the line queued")
        got: list[Batch | None] = []
        taker = threading.Thread(
            target=lambda: got.append(rig.queue.take(100, 1 << 20, 600)), daemon=True
        )
        taker.start()
        taker.join(30)  # far less than the 600 s linger: the idle tailer ends it
        assert not taker.is_alive()
        assert got[0] is not None
        assert [e["message"] for e in got[0].entries] == ["a lone line"]
    finally:
        rig.stop()


def test_a_file_whose_writes_inotify_does_not_report_is_left_to_its_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(tmp_path, poll_interval="1s", scan_interval="1h")
    clock = Clock(rig)
    monkeypatch.setattr(rig.tailer._file_wake, "fired", list)  # events never come (NFS)
    log = rig.logs / "app.log"
    log.write_text("0\n")
    for n in range(1, 4):
        clock.step_until(lambda: rig.tailer._file_wake.armed == 1, advance=0.05)
        append(log, f"{n}\n")
        clock.step_until(lambda n=n: len(rig.drain()) == n + 1, advance=1.0)
    # The timer found three writes the watch never reported: the file is polled only.
    assert rig.tailer._file_wake.armed == 0
    assert rig.metric("logship_file_watch_failures_total") == 1
    for n in range(4, 6):
        for _ in range(20):  # quiet rounds: it is not watched again
            clock.step_until(lambda: True, advance=0.05)
            assert rig.tailer._file_wake.armed == 0
        append(log, f"{n}\n")
        clock.step_until(lambda n=n: len(rig.drain()) == n + 1, advance=1.0)
    assert rig.drain() == [str(n) for n in range(6)]
    rig.tailer.close_all()


@pytest.mark.slow
def test_a_line_appended_after_20_s_of_quiet_arrives(tmp_path: Path) -> None:
    rig = quiet_rig(tmp_path).start()
    try:
        log = rig.logs / "app.log"
        log.write_text("before\n")
        rig.wait_messages(1)
        time.sleep(20)  # the quiet period itself (what the test is about), not a wait
        append(log, "after 20 s\n")
        # The timer would next poll the file hours from now: only the wake-up brings it in.
        assert rig.wait_messages(2, timeout=30) == ["before", "after 20 s"]
        assert rig.metric("logship_file_wakeups_total", input="app") == 1
    finally:
        rig.stop()


def test_a_file_created_just_after_the_first_listing_is_found_by_its_folder_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race a loaded CI machine hit: the file appears between the scan's listing and the
    # folder watch. With the watch armed first, its event brings a rescan; armed after, the
    # file waited for the next scan (an hour here).
    rig = quiet_rig(tmp_path)
    finder = rig.input.finder
    listing = finder.scan

    def list_then_create() -> list[str]:
        found = listing()
        if not (rig.logs / "app.log").exists():
            (rig.logs / "app.log").write_text("a line written while the folder was listed\n")
        return found

    monkeypatch.setattr(finder, "scan", list_then_create)
    rig.start()
    try:
        assert rig.wait_messages(1, timeout=30) == ["a line written while the folder was listed"]
    finally:
        rig.stop()
