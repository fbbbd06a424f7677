"""CheckpointStore: atomic, versioned, skip-unchanged writes; corrupt registries are reported."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from logship.checkpoint import CheckpointError, CheckpointStore, FileCheckpoint

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
