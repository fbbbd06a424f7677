"""write_parts: every byte of every piece, in order, whatever `writev` manages per call."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logship.core import durable
from logship.core.durable import write_parts


def written(path: Path, pieces: list[bytes]) -> bytes:
    """What `write_parts` left in a new file at `path`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        write_parts(fd, pieces)
    finally:
        os.close(fd)
    return path.read_bytes()


def test_short_writes_resume_inside_a_piece_and_across_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_writev = os.writev
    sizes: list[int] = []

    def three_bytes_at_most(fd: int, buffers: list[memoryview]) -> int:
        sizes.append(len(buffers))
        first = bytes(buffers[0])[:3]
        return real_writev(fd, [first])

    monkeypatch.setattr(os, "writev", three_bytes_at_most)
    pieces = [b"alpha\n", b"", b"be\n", b"gamma delta\n"]
    assert written(tmp_path / "out", pieces) == b"".join(pieces)
    assert len(sizes) > len(pieces)


def test_more_pieces_than_one_writev_takes(tmp_path: Path) -> None:
    pieces = [f"{i}\n".encode() for i in range(durable.IOV_MAX * 2 + 7)]
    assert written(tmp_path / "out", pieces) == b"".join(pieces)
