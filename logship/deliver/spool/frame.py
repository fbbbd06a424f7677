"""The spool's on-disk format: segments of frames, each frame one chunk of records.

A segment file starts with an 8-byte magic (`LSSPOOL1`), then frames back to back:

    <u32 payload length> <u32 crc32> <u32 record count> <f64 written at (unix s)> <payload>

The checksum covers the count, the timestamp and the payload (the NDJSON of the chunk's
records), so a flipped bit anywhere but in the length is caught, and a flipped length is caught
by the checksum of the bytes it then points at (or by running past the end of the file). A
frame is the unit of append, fsync and acknowledgement; a reader stops at the first frame that
does not check out: what follows it in that segment is not trusted.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"LSSPOOL1"
HEADER = struct.Struct("<IIId")
"""length, crc32, record count, written-at."""
MAX_PAYLOAD = 1 << 31
"""A length beyond this is corruption, not a chunk (a chunk is at most a few MiB)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame read back: where it starts, its records and when it was written."""

    offset: int
    end: int
    count: int
    written_at: float
    payload: bytes


@dataclass(frozen=True, slots=True)
class Scan:
    """The result of reading a segment: its good frames, and where (and why) it stops being good."""

    frames: list[Frame]
    good_end: int
    """Offset just after the last good frame: the size the segment should have."""
    size: int
    problem: str
    """Empty when the whole file is good frames; else what is wrong at `good_end`."""


def encode_frame(payload: bytes, count: int, written_at: float) -> bytes:
    """The bytes of one frame."""
    body = struct.pack("<Id", count, written_at)
    crc = zlib.crc32(payload, zlib.crc32(body))
    return HEADER.pack(len(payload), crc, count, written_at) + payload


def frame_size(payload_len: int) -> int:
    """On-disk bytes of a frame with a payload of `payload_len` bytes."""
    return HEADER.size + payload_len


def iter_frames(data: bytes, start: int = len(MAGIC)) -> Iterator[Frame | str]:
    """The frames of a segment's bytes from `start`; a string (the problem) ends the iteration
    at the first frame that is torn or does not check out."""
    pos = start
    size = len(data)
    while pos < size:
        if size - pos < HEADER.size:
            yield f"torn frame header at offset {pos} ({size - pos} bytes)"
            return
        length, crc, count, written_at = HEADER.unpack_from(data, pos)
        body_start = pos + HEADER.size
        end = body_start + length
        if length >= MAX_PAYLOAD or end > size:
            yield f"torn or corrupt frame at offset {pos} (length {length}, {size - body_start} bytes left)"
            return
        payload = data[body_start:end]
        body = struct.pack("<Id", count, written_at)
        if zlib.crc32(payload, zlib.crc32(body)) != crc:
            yield f"checksum mismatch in the frame at offset {pos}"
            return
        yield Frame(pos, end, count, written_at, payload)
        pos = end


def scan(data: bytes) -> Scan:
    """Checks a whole segment's bytes: its magic, then every frame."""
    if data[: len(MAGIC)] != MAGIC:
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            return Scan([], 0, len(data), "torn segment header" if data else "")
        return Scan([], 0, len(data), "not a spool segment (bad magic)")
    frames: list[Frame] = []
    problem = ""
    for item in iter_frames(data):
        if isinstance(item, str):
            problem = item
            break
        frames.append(item)
    good_end = frames[-1].end if frames else len(MAGIC)
    return Scan(frames, good_end, len(data), problem)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """A frame's place and header, without its payload."""

    offset: int
    end: int
    count: int
    written_at: float


def walk(fd: int, size: int, verify: bool = True) -> Iterator[FrameInfo | str]:
    """The frames of an open segment of `size` bytes, read one at a time with pread (memory
    stays at one frame); a string (the problem) ends the walk at the first frame that is torn,
    or with `verify` fails its checksum. The magic is checked first."""
    head = os.pread(fd, len(MAGIC), 0)
    if head != MAGIC:
        if len(head) < len(MAGIC) and MAGIC.startswith(head):
            if head:
                yield "torn segment header"
            return
        yield "not a spool segment (bad magic)"
        return
    pos = len(MAGIC)
    while pos < size:
        raw = os.pread(fd, HEADER.size, pos)
        if len(raw) < HEADER.size:
            yield f"torn frame header at offset {pos} ({size - pos} bytes)"
            return
        length, crc, count, written_at = HEADER.unpack(raw)
        end = pos + HEADER.size + length
        if length >= MAX_PAYLOAD or end > size:
            yield f"torn or corrupt frame at offset {pos} (length {length}, {size - pos} bytes left)"
            return
        if verify:
            payload = os.pread(fd, length, pos + HEADER.size)
            body = struct.pack("<Id", count, written_at)
            if zlib.crc32(payload, zlib.crc32(body)) != crc:
                yield f"checksum mismatch in the frame at offset {pos}"
                return
        yield FrameInfo(pos, end, count, written_at)
        pos = end
