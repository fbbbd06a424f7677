"""The tailer in-process: where reading starts, what it survives, what it never reads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.core.ack import AckTracker
from logship.core.metrics import Metrics
from logship.deliver.queue import SinkQueue
from logship.state.checkpoint import FileCheckpoint
from logship.state.registry import FileRegistry
from logship.tail.files import InputRuntime
from logship.tail.identity import FileIdentity, fingerprint
from logship.tail.settings import InputSettings
from logship.tail.tailer import Tailer
from parsers.chain import ParserChain
from tests.harness import wait_until


class Rig:
    """A tailer over one input with one queue; collects what it queues and acks it at once."""

    def __init__(
        self, tmp_path: Path, saved: dict[str, FileCheckpoint] | None = None, **settings: Any
    ) -> None:
        self.logs = tmp_path / "logs"
        self.logs.mkdir(exist_ok=True)
        self.settings = InputSettings.model_validate(
            {
                "name": "app",
                "paths": [str(self.logs / "*.log")],
                "poll_interval": "20ms",
                "scan_interval": "100ms",
                **settings,
            }
        )
        self.queue = SinkQueue(100_000, 1 << 30)
        self.acks = AckTracker()
        self.metrics = Metrics()
        self.registry = FileRegistry(saved or {})
        self.input = InputRuntime(self.settings, ParserChain([], "test-host"), [self.queue])
        self.tailer = Tailer([self.input], self.acks, self.registry, self.metrics)
        self.records: list[dict[str, Any]] = []

    def start(self) -> Rig:
        self.tailer.start()
        return self

    def drain(self) -> list[str]:
        """Takes everything queued so far, acks it, returns the messages."""
        while self.queue.events:
            batch = self.queue.take(100_000, 1 << 30, 0)
            assert batch is not None
            self.records += batch.entries
            self.acks.ack(batch.tickets)
        return [r["message"] for r in self.records]

    def drain_records(self) -> list[dict[str, Any]]:
        self.drain()
        return self.records

    def wait_messages(self, count: int, timeout: float = 20) -> list[str]:
        wait_until(lambda: len(self.drain()) >= count, timeout=timeout, message=f"{count} records")
        return self.drain()

    def stop(self) -> None:
        self.tailer.stop()
        self.tailer.join(10)
        assert not self.tailer.is_alive()

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        if rig.tailer.is_alive():
            rig.stop()


def saved_for(path: Path, offset: int) -> dict[str, FileCheckpoint]:
    fd = os.open(path, os.O_RDONLY)
    try:
        fp, n = fingerprint(fd)
    finally:
        os.close(fd)
    key = FileIdentity.of(path.stat()).key
    return {key: FileCheckpoint(str(path), offset, fp, n, 0.0)}


def test_start_at_end_skips_existing_content_but_reads_new_lines(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = Rig(tmp_path, start_at="end")
    log = rig.logs / "a.log"
    log.write_text("old 1\nold 2\n")
    rigs.append(rig.start())
    wait_until(lambda: rig.tailer.open_files == 1, message="file opened")
    with log.open("a") as f:
        f.write("new 1\n")
    assert rig.wait_messages(1) == ["new 1"]


def test_a_file_created_after_start_is_read_from_its_beginning_even_with_start_at_end(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = Rig(tmp_path, start_at="end")
    rigs.append(rig.start())
    wait_until(lambda: rig.tailer.scans >= 1, message="first scan")
    (rig.logs / "b.log").write_text("first\nsecond\n")
    assert rig.wait_messages(2) == ["first", "second"]


def test_reading_resumes_at_the_checkpoint(tmp_path: Path, rigs: list[Rig]) -> None:
    log = tmp_path / "logs" / "a.log"
    log.parent.mkdir()
    log.write_text("shipped before\nnot yet\n")
    rig = Rig(tmp_path, saved=saved_for(log, len("shipped before\n")))
    rigs.append(rig.start())
    assert rig.wait_messages(1) == ["not yet"]


def test_a_recycled_inode_with_other_content_is_read_from_the_start(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    log = tmp_path / "logs" / "a.log"
    log.parent.mkdir()
    log.write_text("the old file's first line\n")
    saved = saved_for(log, 26)
    with log.open("r+") as f:  # same inode, different first bytes: what inode reuse looks like
        f.write("A NEW FILE with other text\nsecond line\n")
    rig = Rig(tmp_path, saved=saved)
    rigs.append(rig.start())
    assert rig.wait_messages(2) == ["A NEW FILE with other text", "second line"]


def test_a_file_shorter_than_its_checkpoint_is_read_from_zero_and_counted(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    log = tmp_path / "logs" / "a.log"
    log.parent.mkdir()
    log.write_text("aaaa\n")
    saved = saved_for(log, 5000)
    rig = Rig(tmp_path, saved=saved)
    rigs.append(rig.start())
    assert rig.wait_messages(1) == ["aaaa"]
    assert rig.metric("logship_file_truncations_total", input="app") == 1


def test_copytruncate_restarts_at_zero(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = Rig(tmp_path)
    log = rig.logs / "a.log"
    log.write_text("before 1\nbefore 2\n")
    rigs.append(rig.start())
    assert rig.wait_messages(2) == ["before 1", "before 2"]
    os.truncate(log, 0)
    wait_until(
        lambda: rig.metric("logship_file_truncations_total", input="app") == 1,
        message="truncation seen",
    )
    with log.open("a") as f:
        f.write("after\n")
    assert rig.wait_messages(3)[2:] == ["after"]
    key = FileIdentity.of(log.stat()).key
    wait_until(lambda: rig.acks.watermark(key) == 6, message="watermark of the new generation")


def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = Rig(tmp_path, paths=[str(tmp_path / "logs" / "app.log*")])
    log = rig.logs / "app.log"
    log.write_text("one\n")
    rigs.append(rig.start())
    assert rig.wait_messages(1) == ["one"]
    with log.open("a") as old:
        log.rename(rig.logs / "app.log.1")
        log.write_text("three\n")  # the new file
        old.write("two\n")  # the app still writes to the renamed file before it reopens
    got = rig.wait_messages(3)
    assert sorted(got) == ["one", "three", "two"]
    assert got.index("one") < got.index("two")


def test_a_partial_last_line_is_shipped_after_the_timeout(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = Rig(tmp_path, partial_line_timeout="200ms")
    (rig.logs / "a.log").write_text("complete\nno newline yet")
    rigs.append(rig.start())
    assert rig.wait_messages(2) == ["complete", "no newline yet"]
    assert rig.metric("logship_input_partial_lines_flushed_total", input="app") == 1


def test_an_unreadable_file_is_logged_once_counted_and_retried(
    tmp_path: Path,
    rigs: list[Rig],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(tmp_path)
    log = rig.logs / "secret.log"
    log.write_text("readable at last\n")
    real_open = os.open
    denied = {"on": True}

    def guarded_open(path: Any, flags: int, *args: Any) -> int:
        if denied["on"] and str(path) == str(log):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr("logship.tail.reader.os.open", guarded_open)
    rigs.append(rig.start())
    wait_until(
        lambda: rig.metric("logship_file_errors_total", input="app") == 1,
        message="the failed open counted",
    )
    # Several scans pass (100 ms apart); the failure is logged once, not per scan.
    wait_until(
        lambda: (
            sum(1 for r in caplog.records if r.getMessage().startswith("Cannot open file")) == 1
            and rig.tailer.is_alive()
        ),
        message="one warning",
    )
    denied["on"] = False
    assert rig.wait_messages(1) == ["readable at last"]
    warnings = [r for r in caplog.records if r.getMessage().startswith("Cannot open file")]
    assert len(warnings) == 1
    assert warnings[0].__dict__["error"] == "Permission denied"


def test_the_agents_own_output_is_never_tailed(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = Rig(tmp_path)
    own = rig.logs / "out.log"
    own.write_text("agent output\n")
    rig.input.own_files = frozenset({str(own)})
    (rig.logs / "app.log").write_text("app line\n")
    rigs.append(rig.start())
    assert rig.wait_messages(1) == ["app line"]
    wait_until(lambda: rig.metric("logship_input_lines_total", input="app") == 1, message="metric")
    assert rig.tailer.open_files == 1


def test_a_full_queue_stops_reading_and_stop_releases_the_blocked_tailer(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = Rig(tmp_path, read_buffer_bytes="4KiB")
    rig.queue = SinkQueue(10, 1 << 30)
    rig.input.queues = [rig.queue]
    (rig.logs / "a.log").write_text("".join(f"line {i}\n" for i in range(10_000)))
    rigs.append(rig.start())
    wait_until(lambda: rig.queue.events >= 10, message="the queue to fill")
    read_before = rig.metric("logship_input_bytes_total", input="app")
    assert read_before < 80_000, "the tailer must stop reading while the queue is full"
    rig.stop()


def step_until(rig: Rig, predicate: Any, rounds: int = 2000) -> None:
    """Runs tailer rounds on this thread (no tailer thread) until `predicate()` holds."""
    import time as _time

    for _ in range(rounds):
        rig.tailer.run_round(_time.monotonic())
        rig.drain()
        if predicate():
            return
        _time.sleep(0.005)
    raise AssertionError("condition not reached")


def test_a_rotated_file_is_read_to_its_end_before_its_successor(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = Rig(tmp_path, paths=[str(tmp_path / "logs" / "app.log*")], read_buffer_bytes="4KiB")
    log = rig.logs / "app.log"
    log.write_text("".join(f"old {i}\n" for i in range(5000)))
    step_until(rig, lambda: rig.tailer.open_files == 1)
    log.rename(rig.logs / "app.log.1")
    log.write_text("".join(f"new {i}\n" for i in range(100)))
    step_until(rig, lambda: len(rig.records) == 5100)
    got = [r["message"] for r in rig.records]
    assert got == [f"old {i}" for i in range(5000)] + [f"new {i}" for i in range(100)]
    rig.tailer.close_all()


def test_open_files_never_exceed_max_open_files_and_every_file_is_read(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tailer.max_open_files = 5
    for n in range(40):
        (rig.logs / f"f{n:02}.log").write_text("".join(f"{n} {i}\n" for i in range(30)))
    peak = 0

    def done() -> bool:
        nonlocal peak
        peak = max(peak, rig.tailer.open_files)
        return len(rig.records) == 40 * 30

    step_until(rig, done)
    assert peak <= 5
    assert sorted(r["message"] for r in rig.records) == sorted(
        f"{n} {i}" for n in range(40) for i in range(30)
    )
    rig.tailer.close_all()


def test_files_older_than_ignore_older_are_not_read(tmp_path: Path) -> None:
    rig = Rig(tmp_path, ignore_older="1h")
    old = rig.logs / "old.log"
    old.write_text("ancient\n")
    os.utime(old, (0, 0))
    (rig.logs / "new.log").write_text("fresh\n")
    step_until(rig, lambda: len(rig.records) == 1)
    rig.tailer.run_round(0)
    assert [r["message"] for r in rig.drain_records()] == ["fresh"]
    rig.tailer.close_all()


@pytest.mark.parametrize(
    ("include", "expected"), [(False, ["plain"]), (True, ["plain", "zipped 1", "zipped 2"])]
)
def test_compressed_files_are_skipped_unless_asked_for_then_decompressed(
    tmp_path: Path, include: bool, expected: list[str]
) -> None:
    import gzip

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("plain\n")
    with gzip.open(tmp_path / "logs" / "a.log.1.gz", "wt") as f:
        f.write("zipped 1\nzipped 2\n")
    rig = Rig(tmp_path, include_compressed=include, paths=[str(tmp_path / "logs" / "a.log*")])
    step_until(rig, lambda: len(rig.records) == len(expected))
    assert sorted(r["message"] for r in rig.records) == expected
    rig.tailer.close_all()


def test_registry_entries_of_removed_files_are_pruned(tmp_path: Path) -> None:
    import time as _time

    rig = Rig(tmp_path, scan_interval="10ms")
    rig.tailer.clean_removed_after = 0.2
    log = rig.logs / "a.log"
    log.write_text("x\n")
    step_until(rig, lambda: len(rig.records) == 1)
    key = FileIdentity.of(log.stat()).key
    assert key in rig.registry.checkpoints(rig.acks.watermarks())
    log.unlink()
    step_until(rig, lambda: rig.tailer.open_files == 0)
    deadline = _time.monotonic() + 10
    while key in rig.registry.checkpoints({}) and _time.monotonic() < deadline:
        rig.tailer.run_round(_time.monotonic())
        _time.sleep(0.02)
    assert key not in rig.registry.checkpoints({})
    assert rig.acks.watermark(key) is None
    rig.tailer.close_all()


def test_a_file_that_still_exists_is_not_pruned(tmp_path: Path) -> None:
    import time as _time

    rig = Rig(tmp_path, scan_interval="10ms", close_inactive="50ms")
    rig.tailer.clean_removed_after = 0.2
    log = rig.logs / "a.log"
    log.write_text("x\n")
    step_until(rig, lambda: len(rig.records) == 1)
    key = FileIdentity.of(log.stat()).key
    end = _time.monotonic() + 1.0
    while _time.monotonic() < end:
        rig.tailer.run_round(_time.monotonic())
        _time.sleep(0.02)
    assert rig.tailer.open_files == 0, "closed as inactive"
    assert key in rig.registry.checkpoints({}), "a closed but present file keeps its entry"
    rig.tailer.close_all()


def test_poll_mode_finds_new_files_by_scanning(tmp_path: Path, rigs: list[Rig]) -> None:
    rig = Rig(tmp_path, watch="poll", scan_interval="100ms")
    rigs.append(rig.start())
    wait_until(lambda: rig.tailer.scans >= 1, message="first scan")
    (rig.logs / "late.log").write_text("found by polling\n")
    assert rig.wait_messages(1) == ["found by polling"]
    assert rig.tailer._watcher._watched == set()


def test_container_logs_are_unwrapped_joined_and_get_kubernetes_metadata(tmp_path: Path) -> None:
    cid = "b" * 64
    rig = Rig(tmp_path, container="cri", paths=[str(tmp_path / "logs" / "*.log")])
    (rig.logs / f"web-1_shop_nginx-{cid}.log").write_text(
        "2026-11-24T10:00:00.5Z stdout P part one, \n2026-11-24T10:00:00.6Z stdout F part two\n"
        "2026-11-24T10:00:01Z stderr F oops\n"
    )
    step_until(rig, lambda: len(rig.records) == 2)
    first, second = rig.records
    assert first["message"] == "part one, part two"
    assert first["@timestamp"] == "2026-11-24T10:00:00.500Z"
    assert first["log"]["stream"] == "stdout"
    assert first["log"]["offset"] == 0
    assert first["kubernetes"] == {
        "pod": {"name": "web-1"},
        "namespace": "shop",
        "container": {"name": "nginx"},
    }
    assert first["container"] == {"id": cid}
    assert second["log"]["stream"] == "stderr"
    assert second["message"] == "oops"
    rig.tailer.close_all()


def test_multiline_events_are_flushed_after_their_timeout_and_flagged(tmp_path: Path) -> None:
    rig = Rig(tmp_path, multiline={"preset": "java_stacktrace", "flush_timeout": "100ms"})
    (rig.logs / "a.log").write_text(
        "ERROR boom\njava.lang.RuntimeException: x\n\tat A.b(A.java:1)\n"
    )
    step_until(rig, lambda: len(rig.records) == 1)
    (entry,) = rig.records
    assert entry["message"] == "ERROR boom\njava.lang.RuntimeException: x\n\tat A.b(A.java:1)"
    assert entry["log"]["flags"] == ["multiline"]
    key = FileIdentity.of((rig.logs / "a.log").stat()).key
    assert rig.acks.watermark(key) == (rig.logs / "a.log").stat().st_size
    rig.tailer.close_all()


def test_a_reload_that_changes_multiline_reads_the_held_event_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path, multiline={"preset": "indented_continuation", "flush_timeout": "1h"})
    log = rig.logs / "a.log"
    log.write_text("first\n  cont\nsecond\n  held\n")
    step_until(rig, lambda: len(rig.records) == 1)
    assert rig.records[0]["message"] == "first\n  cont"
    new_settings = rig.settings.model_copy(update={"multiline": None})
    rig.tailer.reload([InputRuntime(new_settings, ParserChain([], "test-host"), [rig.queue])])
    rig.tailer._apply_inputs()
    step_until(rig, lambda: len(rig.records) == 3)
    assert [r["message"] for r in rig.records] == ["first\n  cont", "second", "  held"]
    key = FileIdentity.of(log.stat()).key
    assert rig.acks.watermark(key) == log.stat().st_size
    rig.tailer.close_all()


def test_lines_written_just_before_the_file_is_deleted_are_read_before_it_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race: a read finds the end, the writer appends and deletes the file, then the
    # tailer's stat sees no link left. What was appended must still be read, not dropped.
    from logship.tail.reader import FileReader

    rig = Rig(tmp_path)
    log = rig.logs / "doomed.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    step_until(rig, lambda: len(rig.records) == 1000)
    real_stat = FileReader.stat
    pending = [True]

    def stat_after_a_last_write(reader: FileReader) -> os.stat_result:
        if pending:
            pending.clear()
            with log.open("a") as f:
                f.write("".join(f"line {i}\n" for i in range(1000, 2000)) + "last, no newline")
            log.unlink()
        return real_stat(reader)

    monkeypatch.setattr(FileReader, "stat", stat_after_a_last_write)
    step_until(rig, lambda: rig.tailer.open_files == 0)
    assert not pending, "the write must have happened inside the tailer's stat"
    assert [r["message"] for r in rig.records] == [f"line {i}" for i in range(2000)] + [
        "last, no newline"
    ]
