"""The tailer in-process: where reading starts, what it survives, what it never reads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.ack import AckTracker
from logship.checkpoint import FileCheckpoint
from logship.config import InputSettings
from logship.identity import FileIdentity, fingerprint
from logship.metrics import Metrics
from logship.registry import FileRegistry
from logship.sink_queue import SinkQueue
from logship.tailer import InputRuntime, Tailer
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

    monkeypatch.setattr("logship.reader.os.open", guarded_open)
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
