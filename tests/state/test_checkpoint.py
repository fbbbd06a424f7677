"""CheckpointStore: atomic, versioned, skip-unchanged writes; corrupt registries are reported."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from logship.state.checkpoint import CheckpointError, CheckpointStore, FileCheckpoint

CP = FileCheckpoint(
    path="/var/log/a.log", offset=123, fingerprint="ab", fingerprint_bytes=10, updated=1.0
)


def test_saved_checkpoints_load_back(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert store.load() == {}
    assert store.save({"1:2": CP})
    assert CheckpointStore(tmp_path).load() == {"1:2": CP}
    doc = orjson.loads((tmp_path / "registry.json").read_bytes())
    assert doc["version"] == 1


def test_unchanged_checkpoints_are_not_rewritten(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert store.save({"1:2": CP})
    mtime = (tmp_path / "registry.json").stat().st_mtime_ns
    assert not store.save({"1:2": CP})
    assert (tmp_path / "registry.json").stat().st_mtime_ns == mtime


def test_registry_is_private_and_no_temp_file_is_left(tmp_path: Path) -> None:
    CheckpointStore(tmp_path).save({"1:2": CP})
    mode = stat.S_IMODE((tmp_path / "registry.json").stat().st_mode)
    assert mode == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"version": 1, "files": {"1:2": {"path": "/a", "off', "not valid JSON"),
        (b"[]", "expected an object"),
        (b'{"version": 7, "files": {}}', "version 7"),
        (b'{"version": 1, "files": {"1:2": {"path": "/a"}}}', "entry '1:2'"),
        (b'{"version": 1, "files": {"1:2": {"path": "/a", "offset": -5}}}', "negative offset"),
    ],
)
def test_a_corrupt_registry_is_reported_with_the_file_and_what_to_do(
    tmp_path: Path, content: bytes, words: str
) -> None:
    (tmp_path / "registry.json").write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        CheckpointStore(tmp_path).load()
    message = str(info.value)
    assert str(tmp_path / "registry.json") in message
    assert words in message
    assert "Move it aside" in message
    assert "no last good copy" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_an_unwritable_folder_is_a_clear_error_and_keeps_the_old_registry(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save({"1:2": CP})
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="Cannot write checkpoint file"):
            store.save({"1:2": FileCheckpoint("/var/log/a.log", 999, "ab", 10, 2.0)})
    finally:
        tmp_path.chmod(0o700)
    assert CheckpointStore(tmp_path).load()["1:2"].offset == 123


def test_each_save_keeps_the_replaced_registry_as_the_last_good_copy(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    store.save({"1:2": CP})
    assert not (tmp_path / "registry.json.bak").exists(), "nothing was replaced yet"
    newer = FileCheckpoint("/var/log/a.log", 456, "ab", 10, 2.0)
    store.save({"1:2": newer})
    assert CheckpointStore(tmp_path).load()["1:2"].offset == 456
    backup = orjson.loads((tmp_path / "registry.json.bak").read_bytes())
    assert backup["files"]["1:2"]["offset"] == 123
    assert stat.S_IMODE((tmp_path / "registry.json.bak").stat().st_mode) == 0o600


def test_a_corrupt_registry_falls_back_to_the_last_good_copy_and_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    store.save({"1:2": CP})
    store.save({"1:2": FileCheckpoint("/var/log/a.log", 456, "ab", 10, 2.0)})
    (tmp_path / "registry.json").write_bytes(b'{"version": 1, "files": {"1:2": {"path": "/a", "off')
    recovering = CheckpointStore(tmp_path)
    assert recovering.load()["1:2"].offset == 123, "the last good copy, one checkpoint older"
    assert recovering.recovered_from == tmp_path / "registry.json.bak"
    assert "using the last good copy" in caplog.text
    recovering.save({"1:2": FileCheckpoint("/var/log/a.log", 500, "ab", 10, 3.0)})
    backup = orjson.loads((tmp_path / "registry.json.bak").read_bytes())
    assert backup["files"]["1:2"]["offset"] == 123, "the corrupt file must not become the copy"
    assert CheckpointStore(tmp_path).load()["1:2"].offset == 500


def test_a_missing_registry_with_a_copy_uses_the_copy(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    store.save({"1:2": CP})
    store.save({"1:2": FileCheckpoint("/var/log/a.log", 456, "ab", 10, 2.0)})
    (tmp_path / "registry.json").unlink()
    assert CheckpointStore(tmp_path).load()["1:2"].offset == 123


def test_when_both_are_corrupt_the_agent_is_told_and_refuses(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_bytes(b"garbage")
    (tmp_path / "registry.json.bak").write_bytes(b"more garbage")
    with pytest.raises(CheckpointError, match="The last good copy is unusable too"):
        CheckpointStore(tmp_path).load()
