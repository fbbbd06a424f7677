"""LineStages: what turns one file's bytes into events, in order: framing, container unwrapping,
multiline assembly. One instance per open file; pure apart from the clock passed in.

`file_fields` and `parse_events` are the rest of a file's way to records: the agent's tailer and
`logship parse` both call them, so `parse` prints what `run` ships.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from logship.core.lines import Lines
from logship.core.record import LogEntry, format_epoch
from logship.tail.container import ContainerDecoder, kubernetes_fields
from logship.tail.framing import LineFramer
from logship.tail.multiline import MultilineAssembler
from logship.tail.settings import InputSettings

if TYPE_CHECKING:
    from parsers.chain import ChainStats, ParserChain
    from parsers.selection import Selection


def file_fields(settings: InputSettings, path: str) -> dict[str, Any] | None:
    """Fields every record of the file gets: Kubernetes metadata of a container log's path."""
    return kubernetes_fields(path) if settings.container else None


def parse_events(
    chain: ParserChain,
    lines: Lines,
    file_info: dict[str, str],
    fields: dict[str, Any] | None,
) -> tuple[list[LogEntry], ChainStats]:
    """The records of one file's events: the input's chain, with now as the read time, then
    the input's enrichment steps over the whole batch."""
    entries, stats = chain.parse(lines, file_info, format_epoch(time.time()), fields)
    if chain.enrichment is not None:
        chain.enrichment.apply(entries)
    return entries, stats


def encode_events(
    chain: ParserChain,
    lines: Lines,
    file_info: dict[str, str],
    fields: dict[str, Any] | None,
    keep: bool = False,
    select: Selection | None = None,
) -> tuple[bytes, int, ChainStats, list[Any]] | None:
    """`parse_events` and NDJSON encoding fused in one pass (`parsers.fast_chunk`): (JSON
    lines, record count, stats, with `select` the Hits of its conditions, else with `keep` the
    records as dicts for observers, else []), the same bytes as encoding `parse_events`'
    records; None when these events need the general path."""
    if fields:
        return None
    return chain.encode(lines, file_info, format_epoch(time.time()), keep, select)


class LineStages:
    """Feeds bytes through the input's stages; knows which partial state is due for a flush."""

    def __init__(self, offset: int, settings: InputSettings) -> None:
        self.settings = settings
        # Container runtimes split long lines at a byte count, maybe inside a character: keep
        # invalid bytes as surrogates until the decoder has joined the parts.
        self.framer = LineFramer(
            offset, settings.max_line_bytes, "surrogateescape" if settings.container else "replace"
        )
        self.decoder = (
            ContainerDecoder(settings.container, settings.max_line_bytes)
            if settings.container
            else None
        )
        self.assembler = MultilineAssembler(settings.multiline) if settings.multiline else None
        self.emitted_end = offset
        """Offset after the last event emitted: everything held in a stage starts at or after it."""

    @property
    def holding(self) -> bool:
        """True while some stage holds bytes that are not an event yet."""
        return bool(
            self.framer.pending
            or (self.decoder is not None and self.decoder.pending)
            or (self.assembler is not None and self.assembler.pending)
        )

    def feed(self, data: bytes) -> Lines:
        """Events completed by these bytes."""
        return self._after_framing(self.framer.feed(data))

    def flush_due(self, idle: float) -> Lines:
        """Events whose wait is over, `idle` seconds after the file last grew."""
        out = Lines(end=self.emitted_end)
        settings = self.settings
        if idle >= settings.partial_line_timeout:
            if self.framer.pending:
                out.extend(self._after_framing(self.framer.flush()))
            if self.decoder is not None and self.decoder.pending:
                out.extend(self._after_decoding(self.decoder.flush()))
        if self.assembler is not None and self.assembler.pending:
            assert settings.multiline is not None
            if idle >= settings.multiline.flush_timeout:
                out.extend(self._done(self.assembler.flush()))
        return out

    def drain(self) -> Lines:
        """Everything held, as events: the file can no longer grow (deleted, rotated and idle)."""
        out = Lines(end=self.emitted_end)
        out.extend(self._after_framing(self.framer.flush()))
        if self.decoder is not None:
            out.extend(self._after_decoding(self.decoder.flush()))
        if self.assembler is not None:
            out.extend(self._done(self.assembler.flush()))
        return out

    def _after_framing(self, lines: Lines) -> Lines:
        if self.decoder is not None:
            lines = self.decoder.feed(lines)
        return self._after_decoding(lines)

    def _after_decoding(self, lines: Lines) -> Lines:
        if self.assembler is not None:
            lines = self.assembler.feed(lines)
        return self._done(lines)

    def _done(self, lines: Lines) -> Lines:
        self.emitted_end = max(self.emitted_end, lines.end)
        lines.end = self.emitted_end
        return lines
