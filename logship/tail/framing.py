"""Framing: turns the bytes of one file into lines, with the byte offset where each starts.

Pure (no I/O): the tailer feeds it what it read. It keeps a partial last line until its newline
arrives (or `flush` is called after a timeout), truncates lines longer than `max_line_bytes`
(the rest of such a line is skipped, never buffered), strips a trailing `\\r`, and decodes UTF-8
with replacement characters: invalid bytes are never fatal.

The hot path is per chunk: an ASCII chunk (the common case) is split into lines in one pass
by the compiled extension (`parsers.native_chunk`), or decoded and split once by Python's C
string methods without it.
"""

from __future__ import annotations

from itertools import accumulate

from logship.core.lines import Lines
from parsers.native_chunk import split_ascii_lines


class LineFramer:
    """Splits one file's byte stream into lines; one framer per open file.

    A line is the bytes before a `\n`; a `\r` just before the `\n` is part of the line break
    (CRLF), as is a `\r` ending a last line flushed without its `\n`. A line longer than
    `max_line_bytes` keeps its first `max_line_bytes` bytes and is flagged; the bytes cut off
    are counted in `Lines.truncated_bytes`. So every byte fed is in a line, in a line break, or
    counted as cut off (docs/proof.md), however the stream is split into reads.
    """

    def __init__(self, offset: int, max_line_bytes: int, errors: str = "replace") -> None:
        self.max_line_bytes = max_line_bytes
        self.errors = errors
        """How invalid UTF-8 is decoded: `replace` (U+FFFD), or `surrogateescape` for a stage
        that joins lines as bytes before the final decoding (container partial lines)."""
        self._offset = offset  # file offset just after the last byte fed
        self._buf = b""  # the partial line (at most max_line_bytes)
        self._buf_start = offset  # file offset where the partial line starts
        self._skipping = False  # the partial line overflowed: drop bytes until its newline
        self._skipped = 0  # bytes of the overflowing line cut off so far
        self._held_cr = False  # the last byte skipped was a \r: a CRLF's, or content
        self.split = split_ascii_lines
        """The compiled splitter of ASCII chunks (None: the Python way, same lines)."""

    @property
    def offset(self) -> int:
        """File offset just after the last byte fed."""
        return self._offset

    @property
    def line_start(self) -> int:
        """Offset where the pending partial line starts (== offset when there is none)."""
        return self._buf_start

    @property
    def pending(self) -> int:
        """Bytes consumed but not yet framed into a line."""
        return self._offset - self._buf_start

    def feed(self, data: bytes) -> Lines:
        """Frames the bytes that follow what was fed before."""
        out = Lines(end=self._buf_start)
        pos = self._offset
        self._offset += len(data)
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                self._skip(out, data, at_newline=False)
                return out
            self._skip(out, data[:nl], at_newline=True)
            self._emit(out, self._buf, self._buf_start, truncated=self._skipped > 0)
            data = data[nl + 1 :]
            pos += nl + 1
            out.end = pos
            self._buf = b""
            self._buf_start = pos
            self._skipping = False
        if self._buf:
            data = self._buf + data
            pos = self._buf_start
        last_nl = data.rfind(b"\n")
        if last_nl >= 0:
            self._frame_complete(out, data[: last_nl + 1], pos)
            pos += last_nl + 1
            out.end = pos
            rest = data[last_nl + 1 :]
        else:
            rest = data
        self._buf_start = pos
        if len(rest) > self.max_line_bytes:
            self._buf = rest[: self.max_line_bytes]
            self._skipping = True
            self._skipped = 0
            self._held_cr = False
            self._skip(out, rest[self.max_line_bytes :], at_newline=False)
        else:
            self._buf = rest
        return out

    def _skip(self, out: Lines, skipped: bytes, *, at_newline: bool) -> None:
        """Counts bytes cut off an overflowing line; a \r right before its \n is the line break's."""
        count = len(skipped)
        if skipped and self._held_cr:
            count += 1  # the \r held back was not before the \n: content after all
        self._held_cr = False
        if skipped.endswith(b"\r"):
            count -= 1
            self._held_cr = not at_newline  # decided by the next byte
        self._skipped += count
        out.truncated_bytes += count

    def flush(self) -> Lines:
        """Frames the pending partial line as a line of its own (a timeout passed, or the file is done)."""
        out = Lines(end=self._buf_start)
        if self._offset == self._buf_start:
            return out
        if self._skipping:
            # A \r held back ends the line: the start of a line break that never came.
            self._emit(out, self._buf, self._buf_start, truncated=self._skipped > 0)
        else:
            buf = self._buf[:-1] if self._buf.endswith(b"\r") else self._buf
            self._emit(out, buf, self._buf_start, truncated=False)
        out.end = self._offset
        self._buf = b""
        self._buf_start = self._offset
        self._skipping = False
        self._held_cr = False
        return out

    def _frame_complete(self, out: Lines, data: bytes, start: int) -> None:
        """Frames `data`, which ends with a newline and starts at file offset `start`."""
        raw: list[bytes] | None = None
        ascii_text = data.isascii()
        if ascii_text and self.split is not None and b"\r" not in data:
            # One pass in C; lines longer than the limit take the general way below.
            texts, starts, longest = self.split(data, start)
            if longest <= self.max_line_bytes:
                out.starts.extend(starts)
                out.texts.extend(texts)
                return
        if ascii_text:
            texts = data.decode("ascii").split("\n")
            texts.pop()
            sizes = [len(t) + 1 for t in texts]
        else:
            raw = data.split(b"\n")
            raw.pop()
            errors = self.errors
            texts = [b.decode("utf-8", errors) for b in raw]
            sizes = [len(b) + 1 for b in raw]
        base = len(out.texts)
        out.starts.extend(accumulate(sizes[:-1], initial=start))
        crlf = b"\r\n" in data
        if crlf:
            # The \r of a CRLF is the line break's, not the line's (before any cut).
            texts = [t[:-1] if t.endswith("\r") else t for t in texts]
            if raw is not None:
                raw = [b[:-1] if b.endswith(b"\r") else b for b in raw]
        limit = self.max_line_bytes
        if max(sizes) - 1 > limit:
            for i, size in enumerate(sizes):
                if size - 1 <= limit:
                    continue
                # Cut the original bytes, not re-encoded text: the same cut as a partial line gets.
                content = texts[i] if raw is None else raw[i]
                if len(content) <= limit:
                    continue  # only its CRLF's \r made it look long
                texts[i] = (
                    content[:limit]
                    if isinstance(content, str)
                    else (content[:limit].decode("utf-8", "replace"))
                )
                out.truncated.append(base + i)
                out.truncated_bytes += len(content) - limit
        out.texts.extend(texts)

    def _emit(self, out: Lines, raw: bytes, start: int, *, truncated: bool) -> None:
        if truncated:
            out.truncated.append(len(out.texts))
        out.texts.append(raw.decode("utf-8", self.errors))
        out.starts.append(start)
