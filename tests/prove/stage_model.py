"""What the framing, container and multiline stages must do with any bytes: models and checks.

The accounting identity (a plain input, after its last line was framed):

    bytes read = bytes of the shipped lines (before U+FFFD replacement)
               + bytes cut off over-long lines (logship_input_bytes_truncated_total)
               + line terminators (each \\n, and the \\r of a \\r\\n)

A line is the bytes before a \\n; a \\r right before the \\n belongs to the terminator, as does
a \\r ending a last line that never got its \\n. A line longer than `max_line_bytes` ships its
first `max_line_bytes` bytes, flagged truncated; the rest is counted, not shipped. Invalid UTF-8
ships as U+FFFD. These checks are shared by the hypothesis tests and the atheris harness.
"""

from __future__ import annotations

from dataclasses import dataclass

from logship.core.lines import Lines
from logship.tail.settings import InputSettings
from logship.tail.stages import LineStages


@dataclass(frozen=True, slots=True)
class ModelLine:
    """One line as the model frames it."""

    start: int
    text: str
    truncated: bool
    kept: int
    """Bytes of the line shipped (before decoding)."""
    cut: int
    """Bytes of the line cut off."""
    terminator: int
    """\\n and a \\r before it (or a dangling \\r at the end): 0, 1 or 2 bytes."""


def model_lines(data: bytes, limit: int) -> list[ModelLine]:
    """The lines the framer must produce from `data` (every line, the last one flushed)."""
    out = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        line = data[pos:] if nl < 0 else data[pos:nl]
        terminator = 0 if nl < 0 else 1
        if line.endswith(b"\r"):
            line = line[:-1]
            terminator += 1
        kept = line[:limit]
        out.append(
            ModelLine(
                pos,
                kept.decode("utf-8", "replace"),
                len(line) > limit,
                len(kept),
                len(line) - len(kept),
                terminator,
            )
        )
        pos = len(data) if nl < 0 else nl + 1
    return out


def settings(limit: int, **extra: object) -> InputSettings:
    """An input's settings with `max_line_bytes: limit`."""
    return InputSettings.model_validate(
        {"name": "fuzz", "paths": ["/fuzz/*.log"], "max_line_bytes": limit, **extra}
    )


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` split at the given points (any ints; taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def run_stages(stages: LineStages, parts: list[bytes]) -> Lines:
    """Feeds every piece, then drains (the file is done): every event, in order."""
    out = Lines()
    for part in parts:
        out.extend(stages.feed(part))
    out.extend(stages.drain())
    return out


def check_framing(data: bytes, cuts: list[int], limit: int) -> None:
    """Plain framing of `data` fed in pieces: the model's lines, and every byte accounted for."""
    got = run_stages(LineStages(0, settings(limit)), pieces(data, cuts))
    expected = model_lines(data, limit)
    assert got.texts == [m.text for m in expected]
    assert got.starts == [m.start for m in expected]
    assert got.truncated == [i for i, m in enumerate(expected) if m.truncated]
    assert got.end == len(data)
    assert got.truncated_bytes == sum(m.cut for m in expected)
    # The identity: every byte read is shipped, cut off and counted, or a terminator.
    assert len(data) == sum(m.kept + m.cut + m.terminator for m in expected)


# --- container logs ---------------------------------------------------------------------

CRI_TIME = "2026-11-24T10:00:00.123456789Z"
DOCKER_TIME = "2026-11-24T10:00:00.123456789Z"


@dataclass(frozen=True, slots=True)
class ContainerEntry:
    """One line a container wrote, as its runtime stored it: in parts (CRI P/F, docker
    json-file without and with the trailing newline), or a line in no container format."""

    kind: str
    """cri, docker or raw."""
    parts: tuple[bytes, ...]
    stream: str = "stdout"

    def encode(self) -> bytes:
        """The file bytes of this entry."""
        if self.kind == "raw":
            return b"raw " + self.parts[0] + b"\n"
        out = []
        for i, part in enumerate(self.parts):
            last = i == len(self.parts) - 1
            if self.kind == "cri":
                tag = b"F" if last else b"P"
                out.append(f"{CRI_TIME} {self.stream} ".encode() + tag + b" " + part + b"\n")
            else:
                text = part.decode("utf-8", "replace") + ("\n" if last else "")
                doc = {"log": text, "stream": self.stream, "time": DOCKER_TIME}
                import orjson

                out.append(orjson.dumps(doc) + b"\n")
        return b"".join(out)

    def message(self, limit: int) -> tuple[str, bool]:
        """The event this entry must become: its text and whether it is flagged truncated."""
        if self.kind == "raw":
            line = _framed(b"raw " + self.parts[0])
            return line[:limit].decode("utf-8", "replace"), len(line) > limit
        if self.kind == "cri":
            # Each part is a line of the file, framed as such (a \r before its \n goes, it is
            # cut at max_line_bytes with its prefix). The runtime split the line at byte
            # boundaries, maybe inside a character: the parts are joined as bytes, then decoded.
            prefix = len(f"{CRI_TIME} {self.stream} F ")
            lines = [_framed(b"x" * prefix + part) for part in self.parts]
            kept = [line[:limit][prefix:] for line in lines]
            cut = any(len(line) > limit for line in lines)
            text = b"".join(kept).decode("utf-8", "replace")
            return text[:limit], cut or len(text) > limit
        else:
            text = "".join(p.decode("utf-8", "replace") for p in self.parts)
            if text.endswith("\r"):  # the line ended with \r\n: a line break
                text = text[:-1]
        return text[:limit], len(text) > limit


def _framed(line: bytes) -> bytes:
    """A line's content as the framer sees it: a \r right before the \n is the line break's."""
    return line[:-1] if line.endswith(b"\r") else line


def check_container(entries: list[ContainerEntry], fmt: str, cuts: list[int], limit: int) -> None:
    """Container decoding of `entries` fed in pieces: one event per entry, in order, intact."""
    data = b"".join(e.encode() for e in entries)
    stages = LineStages(0, settings(limit, container=fmt))
    got = run_stages(stages, pieces(data, cuts))
    expected = [e.message(limit) for e in entries]
    assert got.texts == [text for text, _ in expected]
    assert got.truncated == [i for i, (_, cut) in enumerate(expected) if cut]
    assert got.end == len(data)
    starts, pos = [], 0
    for entry in entries:
        starts.append(pos)
        pos += len(entry.encode())
    assert got.starts == starts
    assert (got.streams or []) == [("" if e.kind == "raw" else e.stream) for e in entries]
