"""The file sink with `delivery: exactly_once`: the length saved with a checkpoint, cut back to."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.ndjson import encode_ndjson
from logship.core.progress import Progress
from sinks.file import FileSink, FileSinkSettings


class Source:
    """A ProgressSource over an ack tracker, as the pipeline provides."""

    scope = "host"
    key_prefix = b"host/"

    def __init__(self, acks: AckTracker) -> None:
        self.acks = acks

    def after(self, batch: Batch) -> Progress:
        return Progress(self.acks.after(batch.tickets))

    def committed(self, progress: Progress) -> None:
        pass


def eos_sink(path: Path) -> FileSink:
    settings = {"name": "out", "type": "file", "path": str(path), "delivery": "exactly_once"}
    return FileSink(FileSinkSettings.model_validate(settings))


def chunk(acks: AckTracker, start: int, n: int, end: int) -> Batch:
    entries = [{"n": i} for i in range(start, start + n)]
    batch = Batch.encoded(encode_ndjson(entries), n, [], n)
    batch.tickets = [acks.register("f", end, sinks=1)]
    return batch


def test_each_delivered_batch_notes_its_watermarks_with_the_length_after_it(tmp_path: Path) -> None:
    acks = AckTracker()
    acks.track("f", 0)
    sink = eos_sink(tmp_path / "out.ndjson")
    sink.bind_progress(Source(acks))
    sink.healthcheck()
    assert sink.durable_state() is None
    batch = chunk(acks, 0, 3, 30)
    sink.send(batch)
    state = sink.durable_state()
    assert state is not None
    progress, saved = state
    assert dict(progress.watermarks) == {"f": 30}
    assert saved["length"] == (tmp_path / "out.ndjson").stat().st_size
    sink.close(1)


def test_the_head_of_a_split_chunk_is_written_but_not_counted_in_the_saved_length(
    tmp_path: Path,
) -> None:
    acks = AckTracker()
    acks.track("f", 0)
    sink = eos_sink(tmp_path / "out.ndjson")
    sink.bind_progress(Source(acks))
    first = chunk(acks, 0, 2, 20)
    head, _tail = chunk(acks, 2, 3, 50).split(1)
    sink.send(Batch.merge([first, head]))
    state = sink.durable_state()
    assert state is not None
    assert dict(state[0].watermarks) == {"f": 20}
    assert state[1]["length"] == len(first.payload())
    assert (tmp_path / "out.ndjson").stat().st_size > state[1]["length"]
    sink.close(1)


def test_at_start_the_file_is_cut_back_to_the_saved_length(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    path.write_bytes(b'{"n":0}\n{"n":1}\n{"n":2}\n')
    inode = path.stat().st_ino
    sink = eos_sink(path)
    state = sink.restore_state({"length": 8, "inode": inode})
    assert path.read_bytes() == b'{"n":0}\n'
    assert state == {"length": 8, "inode": inode}
    sink.send(Batch([{"n": 1}]))
    sink.close(1)
    assert [orjson.loads(x)["n"] for x in path.read_bytes().splitlines()] == [0, 1]


def test_a_file_replaced_by_something_else_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    path.write_bytes(b'{"n":0}\n{"n":1}\n')
    other_inode = path.stat().st_ino + 1
    sink = eos_sink(path)
    sink.restore_state({"length": 8, "inode": other_inode})
    assert path.read_bytes() == b'{"n":0}\n{"n":1}\n'
    sink.close(1)


def test_a_file_shorter_than_the_saved_length_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    path.write_bytes(b'{"n":0}\n')
    sink = eos_sink(path)
    sink.restore_state({"length": 100, "inode": os.stat(path).st_ino})
    assert path.read_bytes() == b'{"n":0}\n'
    sink.close(1)


def all_numbers(path: Path) -> list[int]:
    files = [*sorted(path.parent.glob(path.name + ".*")), path]
    return [orjson.loads(x)["n"] for f in files for x in f.read_bytes().splitlines()]


def test_rotation_by_size_starts_new_files_and_keeps_every_record_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.ndjson"
    settings = {"name": "out", "type": "file", "path": str(path), "rotate": {"max_bytes": 40}}
    sink = FileSink(FileSinkSettings.model_validate(settings))
    for start in range(0, 12, 3):
        sink.send(Batch([{"n": i} for i in range(start, start + 3)]))
    sink.close(1)
    rotated = sorted(tmp_path.glob("out.ndjson.*"))
    assert len(rotated) == 3
    assert all(p.stat().st_size <= 40 for p in [*rotated, path])
    assert all_numbers(path) == list(range(12))


def test_after_a_rotation_past_the_checkpoint_a_restart_cuts_the_saved_file_and_drops_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.ndjson"
    acks = AckTracker()
    acks.track("f", 0)
    settings = {
        "name": "out",
        "type": "file",
        "path": str(path),
        "delivery": "exactly_once",
        "rotate": {"max_bytes": 40},
    }
    sink = FileSink(FileSinkSettings.model_validate(settings))
    sink.bind_progress(Source(acks))
    sink.send(chunk(acks, 0, 3, 30))
    state = sink.durable_state()
    assert state is not None
    saved = state[1]  # the checkpoint the registry holds when the agent dies
    for start in range(3, 12, 3):  # delivered after it, rotated twice, never checkpointed
        sink.send(chunk(acks, start, 3, start * 10 + 30))
    assert len(list(tmp_path.glob("out.ndjson.*"))) == 3
    # kill -9, restart: the lines after the checkpoint will be read and written again
    again = FileSink(FileSinkSettings.model_validate(settings))
    again.restore_state(saved)
    again.send(Batch([{"n": i} for i in range(3, 12)]))
    again.close(1)
    assert all_numbers(path) == list(range(12))


def test_rotate_needs_a_size_or_an_interval() -> None:
    with pytest.raises(ValueError, match="expected max_bytes, interval or both"):
        FileSinkSettings.model_validate(
            {"name": "out", "type": "file", "path": "/tmp/x", "rotate": {}}
        )
