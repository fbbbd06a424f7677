"""`Lines`: what framing hands every later stage (multiline, containers, parsers) for one feed
of one file: texts with the byte offset each starts at."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Lines:
    """Complete lines framed from one feed.

    `starts[i]` is the byte offset where line i begins; `end` is the offset just after the last
    line's newline (the checkpoint candidate once those lines are acknowledged); `truncated`
    holds the indices of lines cut at `max_line_bytes` (or events cut by multiline limits);
    `truncated_bytes` counts the bytes cut off (skipped, never shipped) while framing these
    bytes, including those of a long line whose end has not arrived yet.

    Later stages add: `multiline` (indices of events joined from several lines), and for
    container logs `times` (the runtime's timestamp of each line, `@timestamp` unless the line
    has its own) and `streams` (stdout / stderr).
    """

    texts: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    end: int = 0
    truncated: list[int] = field(default_factory=list)
    multiline: list[int] = field(default_factory=list)
    times: list[str] | None = None
    streams: list[str] | None = None
    truncated_bytes: int = 0

    def __len__(self) -> int:
        return len(self.texts)

    def extend(self, other: Lines) -> None:
        """Appends the lines of a later `Lines` of the same file (indices and `end` follow)."""
        base = len(self.texts)
        if other.texts and (self.times is not None or other.times is not None):
            self.times = (self.times or [""] * base) + (other.times or [""] * len(other.texts))
        if other.texts and (self.streams is not None or other.streams is not None):
            self.streams = (self.streams or [""] * base) + (
                other.streams or [""] * len(other.texts)
            )
        self.texts += other.texts
        self.starts += other.starts
        self.truncated += [base + i for i in other.truncated]
        self.multiline += [base + i for i in other.multiline]
        self.truncated_bytes += other.truncated_bytes
        self.end = other.end
