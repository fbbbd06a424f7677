"""SpoolStore: one sink's folder of spool segments — recovery, durable appends, bounds, reading.

Folder `<data_dir>/spool/<sink>/`: segments `<seq>.seg` (format in `frame`), read and deleted in
`seq` order, and `state.json` (where delivery got to, the last delivery error). Appends go to the
newest segment and are fsynced before they return: only then may the records' tickets be
acknowledged. A segment is deleted once every frame of it is delivered (or, with drop_oldest,
dropped and counted). The folder's size — segments plus a fixed reserve for `state.json` and its
temporary copy — never exceeds `max_bytes`.

Not thread-safe: `SpooledQueue` calls it under its lock.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from logship.core.durable import write_all
from logship.deliver.spool.frame import (
    HEADER,
    MAGIC,
    Frame,
    encode_frame,
    frame_size,
    scan,
    walk,
)

STATE_FILE = "state.json"
STATE_RESERVE = 4096
"""Bytes of `max_bytes` kept for `state.json` and its temporary copy (each under 2 KiB)."""
MAX_ERROR_CHARS = 500
FIRST_SEQ = 1 << 40
"""Sequence of a fresh spool's first segment: room below it for segments put in front."""


def segment_bytes_for(max_bytes: int) -> int:
    """How big a segment grows before the next one starts: small enough that drop_oldest drops
    a small share and a crash re-sends little, large enough to keep files few."""
    return max(256 * 1024, min(64 * 1024 * 1024, max_bytes // 16))


@dataclass(slots=True)
class Segment:
    """One segment file as the store tracks it."""

    seq: int
    path: Path
    size: int
    records: int = 0
    oldest: float = 0.0
    """Written-at of its first frame (0 when it has none)."""
    frames: list[tuple[int, int, float]] = field(default_factory=list)
    """(end offset, record count, written at) of each undelivered frame."""


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening the spool found wrong and cut off (counted in metrics, logged)."""

    problems: list[str]
    cut_bytes: int


@dataclass(frozen=True, slots=True)
class SpoolRead:
    """Frames handed to the sink worker, and where the cursor moves once they are delivered."""

    frames: list[Frame]
    seq: int
    end: int


class SpoolStore:
    """The segments of one sink's spool, with a read cursor (segment seq, offset)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes_for(max_bytes)
        self._segments: list[Segment] = []
        self._fd: int | None = None  # append descriptor of the newest segment
        self._cursor = 0  # offset of the next unread frame in the first segment
        self.last_error = ""
        self.last_error_at = 0.0
        self.last_delivery_at = 0.0

    # --- opening ------------------------------------------------------------------------------

    def open(self) -> Recovery:
        """Creates the folder or recovers what is in it: torn or corrupt frames are cut off."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = self._load_state()
        problems: list[str] = []
        cut = 0
        for path in sorted(self.folder.glob("*.seg")):
            try:
                seq = int(path.stem)
            except ValueError:
                continue
            seg = Segment(seq, path, len(MAGIC))
            problem = ""
            with open(path, "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                for item in walk(f.fileno(), size):
                    if isinstance(item, str):
                        problem = item
                        break
                    seg.frames.append((item.end, item.count, item.written_at))
                    seg.records += item.count
                    seg.size = item.end
                if problem:
                    cut += size - (seg.size if seg.frames else 0)
                    problems.append(f"{path.name}: {problem}; cut {size - seg.size} bytes")
                if seg.frames and seg.size < size:
                    f.truncate(seg.size)
                    os.fsync(f.fileno())
            if not seg.frames:
                path.unlink()
                continue
            seg.oldest = seg.frames[0][2]
            self._segments.append(seg)
        for tmp in self.folder.glob("*.tmp"):
            tmp.unlink()
        self._cursor = len(MAGIC)
        if self._segments and state.get("seq") == self._segments[0].seq:
            self._skip_to(int(_number(state.get("offset"))))
            if not self._segments[0].frames:
                self.drop_oldest()  # every frame of it was delivered before the restart
        self._sync_dir()
        return Recovery(problems, cut)

    def _load_state(self) -> dict[str, object]:
        try:
            state = orjson.loads((self.folder / STATE_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}  # lost or torn: a fuller re-send, never a loss
        if not isinstance(state, dict):
            return {}
        self.last_error = str(state.get("last_error", ""))
        self.last_error_at = _number(state.get("last_error_at"))
        self.last_delivery_at = _number(state.get("last_delivery_at"))
        return state

    def _skip_to(self, offset: int) -> None:
        """Resumes after the frames a previous run delivered from the first segment."""
        seg = self._segments[0]
        done = [f for f in seg.frames if f[0] <= offset]
        if not done:
            return
        self._cursor = done[-1][0]
        seg.records -= sum(n for _, n, _ in done)
        seg.frames = seg.frames[len(done) :]
        seg.oldest = seg.frames[0][2] if seg.frames else 0.0

    # --- sizes --------------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Bytes on disk: every segment, plus the state file's reserve."""
        return sum(s.size for s in self._segments) + STATE_RESERVE

    @property
    def records(self) -> int:
        """Records spooled and not yet delivered."""
        return sum(s.records for s in self._segments)

    @property
    def oldest(self) -> float:
        """Written-at of the oldest undelivered frame, or 0 when empty."""
        return self._segments[0].oldest if self._segments else 0.0

    @property
    def head_seq(self) -> int | None:
        """Sequence number of the oldest segment (None when empty)."""
        return self._segments[0].seq if self._segments else None

    @property
    def empty(self) -> bool:
        """Nothing left to deliver."""
        return not self._segments

    def room_for(self, payload_len: int, new_segment: bool = False) -> bool:
        """True if a frame of this payload fits under max_bytes now."""
        extra = frame_size(payload_len) + (
            len(MAGIC) if new_segment or self._rolls(payload_len) else 0
        )
        return self.nbytes + extra <= self.max_bytes

    def ever_fits(self, payload_len: int) -> bool:
        """True if such a frame could fit into an empty spool."""
        return STATE_RESERVE + len(MAGIC) + frame_size(payload_len) <= self.max_bytes

    def _rolls(self, payload_len: int) -> bool:
        last = self._segments[-1] if self._segments else None
        return (
            last is None
            or self._fd is None
            or (last.size > len(MAGIC) and last.size + frame_size(payload_len) > self.segment_bytes)
        )

    # --- writing ------------------------------------------------------------------------------

    def append(self, payload: bytes, count: int) -> None:
        """Appends one frame to the newest segment (starting one when due) and fsyncs."""
        if self._rolls(len(payload)):
            seq = self._segments[-1].seq + 1 if self._segments else FIRST_SEQ
            self._start_segment(seq)
        seg = self._segments[-1]
        assert self._fd is not None
        now = time.time()
        self._write(self._fd, seg, encode_frame(payload, count, now), count, now)

    def prepend(self, payload: bytes, count: int) -> None:
        """Writes one frame as a new segment before every other (nothing of the spool has been
        read yet: the sink worker was busy with exactly these records)."""
        seq = self._segments[0].seq - 1 if self._segments else FIRST_SEQ
        fd = self._create(seq)
        seg = Segment(seq, self.folder / f"{seq:020d}.seg", len(MAGIC))
        self._segments.insert(0, seg)
        self._cursor = len(MAGIC)
        try:
            now = time.time()
            self._write(fd, seg, encode_frame(payload, count, now), count, now)
        finally:
            os.close(fd)
        if len(self._segments) == 1:
            self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _write(self, fd: int, seg: Segment, data: bytes, count: int, now: float) -> None:
        try:
            write_all(fd, data)
        except OSError:
            # A partial frame would be cut at the next open; cut it now so appends stay readable.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, seg.size)
            raise
        if not seg.frames:
            seg.oldest = now
        seg.size += len(data)
        seg.records += count
        seg.frames.append((seg.size, count, now))

    def _start_segment(self, seq: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = self._create(seq)
        seg = Segment(seq, self.folder / f"{seq:020d}.seg", len(MAGIC))
        if not self._segments:
            self._cursor = len(MAGIC)
        self._segments.append(seg)

    def _create(self, seq: int) -> int:
        path = self.folder / f"{seq:020d}.seg"
        fd = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600
        )
        write_all(fd, MAGIC)
        self._sync_dir()  # the new name survives a power loss
        return fd

    def _sync_dir(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def drop_oldest(self) -> int:
        """Deletes the oldest segment (the only one, if it is alone); returns its records."""
        seg = self._segments.pop(0)
        if not self._segments and self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            seg.path.unlink()
        self._cursor = len(MAGIC)
        return seg.records

    # --- reading ------------------------------------------------------------------------------

    def read(self, max_records: int, max_bytes: int) -> tuple[SpoolRead | None, int, list[str]]:
        """The next frames from the cursor (which moves only on `delivered`), up to about the
        given bounds; None when nothing is left to read.

        Also returns the records lost to corruption met on the way (a frame that no longer
        checks out: it and the rest of its segment are cut off) and what was wrong.
        """
        lost = 0
        problems: list[str] = []
        while self._segments:
            seg = self._segments[0]
            frames, problem = self._read_frames(seg, max_records, max_bytes)
            if problem:
                problems.append(f"{seg.path.name}: {problem}")
                lost += self._cut(seg, frames[-1].end if frames else self._cursor)
            if frames:
                return SpoolRead(frames, seg.seq, frames[-1].end), lost, problems
            if seg.frames:
                return None, lost, problems  # unreachable: unread frames always read
            if len(self._segments) == 1 and not problem:
                return None, lost, problems
            self.drop_oldest()
        return None, lost, problems

    def _read_frames(
        self, seg: Segment, max_records: int, max_bytes: int
    ) -> tuple[list[Frame], str]:
        frames: list[Frame] = []
        records = 0
        nbytes = 0
        pos = self._cursor
        try:
            fd = os.open(seg.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return [], "segment file vanished"
        try:
            while pos < seg.size and records < max_records and nbytes < max_bytes:
                head = os.pread(fd, HEADER.size, pos)
                length = HEADER.unpack(head)[0] if len(head) == HEADER.size else -1
                if length < 0 or pos + HEADER.size + length > seg.size:
                    return frames, f"torn frame at offset {pos}"
                data = head + os.pread(fd, length, pos + HEADER.size)
                found = scan(MAGIC + data)
                if found.problem or not found.frames:
                    return frames, f"checksum mismatch at offset {pos}"
                f = found.frames[0]
                frames.append(Frame(pos, pos + len(data), f.count, f.written_at, f.payload))
                records += f.count
                nbytes += length
                pos += len(data)
        finally:
            os.close(fd)
        return frames, ""

    def _cut(self, seg: Segment, good_end: int) -> int:
        """Cuts a segment after its last good frame; returns the records cut off."""
        lost = sum(n for end, n, _ in seg.frames if end > good_end)
        seg.frames = [f for f in seg.frames if f[0] <= good_end]
        seg.records -= lost
        seg.size = good_end
        with contextlib.suppress(OSError):
            os.truncate(seg.path, good_end)  # appends (O_APPEND) go on after the good part
        return lost

    def delivered(self, done: SpoolRead) -> None:
        """The frames of `done` reached the sink: moves the cursor, deletes finished segments."""
        self.last_delivery_at = time.time()
        if not self._segments or self._segments[0].seq != done.seq:
            self.save_state()
            return  # dropped meanwhile (drop_oldest)
        seg = self._segments[0]
        delivered = [f for f in seg.frames if f[0] <= done.end]
        seg.frames = seg.frames[len(delivered) :]
        seg.records -= sum(n for _, n, _ in delivered)
        seg.oldest = seg.frames[0][2] if seg.frames else 0.0
        self._cursor = done.end
        if not seg.frames and (len(self._segments) > 1 or self._cursor >= seg.size):
            self.drop_oldest()
        self.save_state()

    def failed(self, reason: str) -> None:
        """Remembers the last delivery error (shown by `logship spool`)."""
        if reason != self.last_error:
            self.last_error = reason[:MAX_ERROR_CHARS]
            self.last_error_at = time.time()
            self.save_state()

    def save_state(self) -> None:
        """Writes `state.json` (no fsync: losing it means a fuller re-send, never a loss)."""
        seq = self._segments[0].seq if self._segments else 0
        doc = {
            "seq": seq,
            "offset": self._cursor,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_delivery_at": self.last_delivery_at,
        }
        tmp = self.folder / (STATE_FILE + ".tmp")
        try:
            tmp.write_bytes(orjson.dumps(doc))
            os.replace(tmp, self.folder / STATE_FILE)
        except OSError:
            pass  # best effort, as above

    def close(self) -> None:
        """Closes the append descriptor and saves the state."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.save_state()


def _number(value: object) -> float:
    """A number from state.json, 0 for anything else (a hand-edited or torn file)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
