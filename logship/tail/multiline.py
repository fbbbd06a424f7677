"""Multiline: joins the lines of one event (a stack trace, a traceback, continued lines).

Filebeat's model: `pattern` (a regex searched in each line), `negate` and `match`:

- `match: after`: a line whose test is true (pattern found, or not found with `negate`) belongs
  to the event before it;
- `match: before`: a line whose test is true continues into the next line.

Presets cover the common cases: `java_stacktrace` (exception headers, `at ...`, `... N more`,
`Caused by:` join the line before), `python_traceback` (a traceback and its exception line join
the logging line before), `indented_continuation` (indented lines join the line before),
`java_bracket` (an event starts with `[` and a digit, like Kafka's `[2016-12-19 16:31:47,999] ...`;
every other line, whatever its shape, joins the event before).

Offsets stay exact: an event starts where its first line starts; while an event may still grow
the ack end stops at its start, so a restart re-reads it whole. An event cut by `max_lines` or
`max_bytes` is shipped as is and flagged truncated; the rest starts a new event (nothing is
dropped). Pure: the tailer feeds framed lines and calls `flush` after `flush_timeout`.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

from pydantic import Field, field_validator, model_validator

from logship.core.lines import Lines
from logship.core.schema import StrictModel
from logship.core.units import ByteSize, Duration

Preset = Literal["java_stacktrace", "python_traceback", "indented_continuation", "java_bracket"]


class MultilineSettings(StrictModel):
    """An input's `multiline:` section: a preset, or pattern / negate / match."""

    preset: Preset | None = None
    pattern: str | None = None
    negate: bool = False
    match: Literal["after", "before"] = "after"
    max_lines: int = Field(500, ge=2)
    max_bytes: ByteSize = Field(1024 * 1024, ge=64)
    flush_timeout: Duration = Field(5.0, gt=0)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"pattern does not compile at position {exc.pos}: {exc.msg}"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_way(self) -> MultilineSettings:
        if (self.preset is None) == (self.pattern is None):
            raise ValueError(
                "give either preset (java_stacktrace, python_traceback, indented_continuation, "
                "java_bracket) "
                "or pattern (with negate and match)"
            )
        return self


class _Rule(Protocol):
    def joins(self, line: str) -> bool:
        """True if the line belongs with its neighbour (before or after, per `match`)."""

    def reset(self) -> None:
        """An event was emitted: forget per-event state."""


class _PatternRule:
    def __init__(self, pattern: str, negate: bool) -> None:
        self._search = re.compile(pattern).search
        self._negate = negate

    def joins(self, line: str) -> bool:
        return (self._search(line) is not None) != self._negate

    def reset(self) -> None:
        pass


JAVA_CONTINUATION = (
    r"^\s+at\s"  # stack frames
    r"|^\s+\.\.\.\s\d+\s(more|common frames omitted)"
    r"|^\s*(Caused by|Suppressed):\s"
    r"|^([a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(Exception|Error|Throwable)\b"  # java.io.IOException: ...
)
INDENTED = r"^\s+\S"
# log4j layouts that open with the time in brackets (Kafka's `[%d] %p %m (%c)%n`): a start
# pattern rather than a list of continuation shapes, so multi-line messages that are not stack
# frames (Kafka's `KafkaConfig values:` dump, SQL, JSON) stay in their event too.
BRACKETED_START = r"^\[\d"


class _PythonTraceback:
    """A traceback after a logging line: `Traceback ...:`, indented frames, the exception line.

    Stateful because the final exception line (`ValueError: boom`) is not indented and has no
    fixed shape: it is the first unindented line after the frames. Chained tracebacks ("During
    handling of the above exception...") and the blank lines around them continue the event.
    """

    _HEADERS = (
        "Traceback (most recent call last):",
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    )

    def __init__(self) -> None:
        self._in_frames = False
        self._after_exception = False  # blank lines may lead to a chained traceback

    def joins(self, line: str) -> bool:
        if line.startswith(self._HEADERS):
            self._in_frames = True
            self._after_exception = False
            return True
        if self._in_frames:
            if not line or line[0].isspace():
                return True
            self._in_frames = False  # the exception line closes the frames
            self._after_exception = True
            return True
        if self._after_exception and not line.strip():
            return True
        self._after_exception = False
        return False

    def reset(self) -> None:
        self._in_frames = False
        self._after_exception = False


def build_rule(settings: MultilineSettings) -> tuple[_Rule, Literal["after", "before"]]:
    """The line test and match direction of a multiline config."""
    if settings.preset == "java_stacktrace":
        return _PatternRule(JAVA_CONTINUATION, negate=False), "after"
    if settings.preset == "python_traceback":
        return _PythonTraceback(), "after"
    if settings.preset == "indented_continuation":
        return _PatternRule(INDENTED, negate=False), "after"
    if settings.preset == "java_bracket":
        return _PatternRule(BRACKETED_START, negate=True), "after"
    assert settings.pattern is not None
    return _PatternRule(settings.pattern, settings.negate), settings.match


class MultilineAssembler:
    """Joins framed lines of one file into events; one assembler per open file."""

    def __init__(self, settings: MultilineSettings) -> None:
        self.settings = settings
        self._rule, self._match = build_rule(settings)
        self._parts: list[str] = []
        self._start = 0  # offset of the pending event's first line
        self._end = 0  # offset after its last line
        self._bytes = 0
        self._truncated = False
        self._time: str | None = None
        self._stream: str | None = None

    @property
    def pending(self) -> bool:
        """True while an event is being assembled."""
        return bool(self._parts)

    def feed(self, lines: Lines) -> Lines:
        """Events completed by these lines; `end` stops at the start of a still-pending event."""
        out = Lines(
            end=self._start if self._parts else lines.end, truncated_bytes=lines.truncated_bytes
        )
        truncated = set(lines.truncated)
        times, streams = lines.times, lines.streams
        if times is not None:
            out.times = []
        if streams is not None:
            out.streams = []
        ends = [*lines.starts[1:], lines.end]
        after = self._match == "after"
        for i, text in enumerate(lines.texts):
            joins = self._rule.joins(text)
            if self._parts and after and not joins:
                self._emit(out)
            if not self._parts:
                self._begin(
                    lines.starts[i], times[i] if times else None, streams[i] if streams else None
                )
            elif (
                len(self._parts) >= self.settings.max_lines
                or self._bytes + len(text) > self.settings.max_bytes
            ):
                self._truncated = True
                self._emit(out)
                self._begin(
                    lines.starts[i], times[i] if times else None, streams[i] if streams else None
                )
                self._truncated = True
            self._parts.append(text)
            self._bytes += len(text) + 1
            self._end = ends[i]
            if i in truncated:
                self._truncated = True
            if not after and not joins:
                self._emit(out)
        out.end = self._start if self._parts else lines.end
        return out

    def flush(self) -> Lines:
        """Emits the pending event (its flush_timeout passed, or the file is done)."""
        out = Lines(end=self._end)
        if self._parts:
            out.times = [] if self._time is not None else None
            out.streams = [] if self._stream is not None else None
            self._emit(out)
        return out

    def _begin(self, start: int, time: str | None, stream: str | None) -> None:
        self._start = start
        self._time = time
        self._stream = stream
        self._bytes = 0
        self._truncated = False

    def _emit(self, out: Lines) -> None:
        index = len(out.texts)
        out.texts.append(self._parts[0] if len(self._parts) == 1 else "\n".join(self._parts))
        out.starts.append(self._start)
        if len(self._parts) > 1:
            out.multiline.append(index)
        if self._truncated:
            out.truncated.append(index)
        if out.times is not None:
            out.times.append(self._time or "")
        if out.streams is not None:
            out.streams.append(self._stream or "")
        self._parts = []
        self._start = self._end
        self._truncated = False
        self._rule.reset()
