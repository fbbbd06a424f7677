"""FileReader: one open file, read in large chunks from a byte offset. Knows nothing about lines."""

from __future__ import annotations

import gzip
import io
import os

from logship.tail.identity import FileIdentity


class FileReader:
    """An open file descriptor and the offset of the next byte to read.

    Reads with `pread`, so the offset is ours alone and a truncated or replaced file cannot move
    it behind our back. The descriptor stays valid after the path is renamed or deleted, which
    is what lets a rotated file be read to its end.
    """

    def __init__(self, path: str, offset: int) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(self.fd)
        except OSError:
            os.close(self.fd)
            raise
        self.identity = FileIdentity.of(st)
        self.offset = offset

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` from the current offset (b"" at the end of the file)."""
        data = os.pread(self.fd, max_bytes, self.offset)
        self.offset += len(data)
        return data

    def stat(self) -> os.stat_result:
        """fstat of the open file (size, link count)."""
        return os.fstat(self.fd)

    def path_points_here(self) -> bool:
        """True if the path still names this file (not renamed away, deleted or replaced)."""
        try:
            return FileIdentity.of(os.stat(self.path)) == self.identity
        except OSError:
            return False

    def close(self) -> None:
        """Closes the descriptor."""
        os.close(self.fd)


class GzipFileReader(FileReader):
    """A gzip-compressed file read as its decompressed bytes; offsets count decompressed bytes.

    Only for `include_compressed: true`. A compressed file does not grow: it is read once, to
    its end. Resuming at an offset decompresses and skips what comes before it.
    """

    def __init__(self, path: str, offset: int) -> None:
        super().__init__(path, offset)
        self._stream: gzip.GzipFile | None = None
        self._raw: io.FileIO | None = None
        self._position = 0

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` decompressed bytes from the current offset (b"" at the end)."""
        if self._stream is None or self._position != self.offset:
            self._close_stream()
            self._raw = io.FileIO(os.dup(self.fd), "rb")
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
            self._position = 0
            while self._position < self.offset:
                skipped = self._stream.read(min(1 << 20, self.offset - self._position))
                if not skipped:
                    break
                self._position += len(skipped)
        try:
            data = self._stream.read(max_bytes)
        except (EOFError, gzip.BadGzipFile, OSError):
            # Still being compressed, or damaged: try again from here on a later poll.
            self._close_stream()
            return b""
        self._position += len(data)
        self.offset += len(data)
        return data

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def close(self) -> None:
        """Closes the decompressor and the descriptor."""
        self._close_stream()
        super().close()
