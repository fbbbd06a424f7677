"""The file sink: appends NDJSON durably, never leaves a torn or doubled batch."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from logship.app.cli import main
from logship.core.batch import Batch
from logship.core.sink import Outcome
from sinks.file import FileSink, FileSinkSettings


def sink_at(path: Path, **extra: Any) -> FileSink:
    return FileSink(
        FileSinkSettings.model_validate({"name": "f", "type": "file", "path": str(path), **extra})
    )


def test_batches_are_appended_as_ndjson(tmp_path: Path) -> None:
    sink = sink_at(tmp_path / "sub" / "out.ndjson")
    sink.healthcheck()
    assert sink.send(Batch([{"n": 1}, {"n": 2}])).outcome is Outcome.DELIVERED
    assert sink.send(Batch([{"n": 3}])).outcome is Outcome.DELIVERED
    sink.close(1)
    lines = (tmp_path / "sub" / "out.ndjson").read_bytes().splitlines()
    assert [orjson.loads(x)["n"] for x in lines] == [1, 2, 3]


def test_a_record_torn_by_a_crash_is_cut_off_when_the_file_is_reopened(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    out.write_bytes(b'{"n":1}\n{"n":2}\n{"n":3,"mess')
    sink = sink_at(out)
    sink.healthcheck()
    sink.send(Batch([{"n": 3}]))
    sink.close(1)
    assert out.read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'


def test_a_file_with_only_a_torn_record_is_emptied(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    out.write_bytes(b'{"n":1,"x"')
    sink = sink_at(out)
    sink.healthcheck()
    sink.close(1)
    assert out.read_bytes() == b""


def test_new_files_get_the_configured_mode(tmp_path: Path) -> None:
    sink = sink_at(tmp_path / "out.ndjson", file_mode="0600")
    sink.healthcheck()
    sink.close(1)
    assert (tmp_path / "out.ndjson").stat().st_mode & 0o777 == 0o600


def test_a_batch_merged_from_chunks_is_written_whole_and_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    sink = sink_at(out)
    sink.healthcheck()
    chunks = [
        Batch.encoded(b'{"n":0}\n{"n":1}\n', 2, [], 16),
        Batch.encoded(b'{"n":2}\n', 1, [], 8),
    ]
    assert sink.send(Batch.merge(chunks)).outcome is Outcome.DELIVERED
    sink.close(1)
    assert out.read_bytes() == b'{"n":0}\n{"n":1}\n{"n":2}\n'


def test_a_failed_write_is_rolled_back_and_retried_not_half_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.ndjson"
    sink = sink_at(out)
    sink.healthcheck()
    sink.send(Batch([{"n": 1}]))
    real_writev = os.writev
    calls = {"n": 0}

    def half_then_enospc(fd: int, buffers: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return os.write(fd, bytes(buffers[0])[:5])  # a partial write...
        raise OSError(errno.ENOSPC, "No space left on device")  # ...then the disk is full

    monkeypatch.setattr("logship.core.durable.os.writev", half_then_enospc)
    result = sink.send(Batch([{"n": 2}, {"n": 3}]))
    assert result.outcome is Outcome.RETRY
    assert "disk full" in result.reason
    assert out.read_bytes() == b'{"n":1}\n', "the partial batch must be rolled back"
    monkeypatch.setattr("logship.core.durable.os.writev", real_writev)
    assert sink.send(Batch([{"n": 2}, {"n": 3}])).outcome is Outcome.DELIVERED
    sink.close(1)
    assert out.read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'


def test_file_mode_must_be_octal() -> None:
    with pytest.raises(ValueError, match="octal"):
        FileSinkSettings.model_validate(
            {"name": "f", "type": "file", "path": "/x", "file_mode": "rw-r"}
        )


@pytest.mark.parametrize(
    ("written", "shown"), [("0640", "0640"), ("0o600", "0600"), (0o755, "0755")]
)
def test_check_prints_file_mode_in_octal_as_people_write_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: object, shown: str
) -> None:
    config = tmp_path / "logship.yaml"
    doc = {
        "inputs": [{"name": "app", "paths": [str(tmp_path / "*.log")]}],
        "sinks": [{"name": "out", "type": "file", "path": "out.ndjson", "file_mode": written}],
    }
    config.write_text(yaml.safe_dump(doc))
    assert main(["check", "-c", str(config)]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out.split("\n# Files each input")[0])
    assert resolved["sinks"][0]["file_mode"] == shown
    again = FileSinkSettings.model_validate(resolved["sinks"][0])  # and it reads back the same
    assert again.file_mode == FileSinkSettings.model_validate(doc["sinks"][0]).file_mode
