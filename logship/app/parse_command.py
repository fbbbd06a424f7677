"""`logship parse`: a log file through an input's stages and parser chain, as `run` would ship it.

The file goes through the same code as in the agent (`logship.tail.stages`): framing, container
unwrapping, multiline assembly (with its flush at the end of the input), then the input's chain
with drop_if and redaction. Records go to stdout as the file sink writes them (NDJSON); a
summary per rule, counted in events, goes to stderr. Touches no agent state.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from logship.core.lines import Lines
from logship.core.ndjson import encode_ndjson
from logship.tail.settings import InputSettings
from logship.tail.stages import LineStages, encode_events, file_fields, parse_events
from parsers.chain import NO_RULE, ChainStats, ParserChain

CHUNK = 1 << 20
_EXAMPLES = 5


@dataclass(slots=True)
class ParseTotals:
    """What a `parse` run saw: events and physical lines, rule counts, unmatched examples."""

    events: int = 0
    lines: int = 0
    stats: ChainStats = field(default_factory=ChainStats)
    examples: list[tuple[int, str]] = field(default_factory=list)
    """(line number where the event starts, its text) of the first events no rule matched."""


class _LineNumbers:
    """Line numbers of event starts, keeping only the bytes a stage may still hold.

    Every event emitted later starts at or after `LineStages.emitted_end`, so the bytes before
    it are counted once and dropped: memory stays bounded by the longest pending event.
    """

    def __init__(self) -> None:
        self._start = 0  # offset of self._held[0]
        self._before = 0  # newlines before self._start
        self._held = b""

    def add(self, data: bytes) -> None:
        self._held += data

    def line_of(self, offset: int) -> int:
        return self._before + self._held.count(b"\n", 0, offset - self._start) + 1

    def forget_before(self, offset: int) -> None:
        cut = offset - self._start
        if cut > 0:
            self._before += self._held.count(b"\n", 0, cut)
            self._held = self._held[cut:]
            self._start = offset


def parse_stream(
    stream: BinaryIO,
    path: str,
    settings: InputSettings,
    chain: ParserChain,
    out: BinaryIO | None,
) -> ParseTotals:
    """Runs `stream` through the input's stages and chain; writes records to `out` (if any)."""
    st = os.fstat(stream.fileno())
    file_info = {"path": path, "device_id": str(st.st_dev), "inode": str(st.st_ino)}
    fields = file_fields(settings, path)
    stages = LineStages(0, settings)
    numbers = _LineNumbers()
    totals = ParseTotals()
    last_byte = b"\n"

    def ship(lines: Lines) -> None:
        if lines.texts:
            # The agent's two ways (stages.encode_events, else parse_events): the same bytes.
            encoded = encode_events(chain, lines, file_info, fields)
            if encoded is None:
                entries, stats = parse_events(chain, lines, file_info, fields)
                ndjson = encode_ndjson(entries) if out is not None and entries else b""
            else:
                ndjson, _, stats, _ = encoded
            _add(totals, stats, numbers)
            totals.events += len(lines.texts)
            if out is not None and ndjson:
                out.write(ndjson)
        numbers.forget_before(stages.emitted_end)

    while chunk := stream.read(CHUNK):
        numbers.add(chunk)
        totals.lines += chunk.count(b"\n")
        last_byte = chunk[-1:]
        ship(stages.feed(chunk))
    if last_byte != b"\n":
        totals.lines += 1  # a last line without its newline
    ship(stages.drain())
    return totals


def _add(totals: ParseTotals, stats: ChainStats, numbers: _LineNumbers) -> None:
    total = totals.stats
    for offset, text in stats.unmatched_examples:
        if len(totals.examples) < _EXAMPLES:
            totals.examples.append((numbers.line_of(offset), text))
    for rule, n in stats.matched.items():
        total.matched[rule] = total.matched.get(rule, 0) + n
    for key, n in stats.field_errors.items():
        total.field_errors[key] = total.field_errors.get(key, 0) + n
    for rule, n in stats.dropped.items():
        total.dropped[rule] = total.dropped.get(rule, 0) + n
    total.unmatched += stats.unmatched


def print_summary(source: str, settings: InputSettings, totals: ParseTotals, err: TextIO) -> None:
    """The per-rule summary on stderr; counts are events (a multiline event counts once)."""
    print(
        f"# {totals.events} event(s) from {totals.lines} line(s) of {source}, "
        f"input {settings.name!r}",
        file=err,
    )
    rules = settings.parsers
    total = totals.stats
    width = max([len(r) for r in rules] + [18])
    print(f"#   {'rule':{width}} {'matched':>9} {'dropped':>8}", file=err)
    for rule in rules:
        matched = total.matched.get(rule, 0)
        print(f"#   {rule:{width}} {matched:>9} {total.dropped.get(rule, 0):>8}", file=err)
    fate = (
        "dropped (on_no_match: drop)"
        if settings.on_no_match == "drop"
        else "kept, tags [parse_failure]"
    )
    unmatched = total.unmatched
    dropped = total.dropped.get(NO_RULE, 0)
    print(f"#   {'(no rule matched)':{width}} {unmatched:>9} {dropped:>8}   {fate}", file=err)
    for (rule, reason), n in sorted(total.field_errors.items()):
        print(f"# field errors: {rule}: {reason}: {n} (raw value kept, record tagged)", file=err)
    if totals.examples:
        print("# first events no rule matched (line where each starts):", file=err)
        for number, text in totals.examples:
            first = text.split("\n", 1)[0]
            more = text.count("\n")
            shown = first if len(first) <= 200 else first[:197] + "..."
            if more:
                shown += f"  [+{more} line(s)]"
            print(f"#   line {number}: {shown}", file=err)


def run(
    stream: BinaryIO, source: str, settings: InputSettings, chain: ParserChain, records: bool
) -> ParseTotals:
    """`logship parse` after the config is loaded: records to stdout, the summary to stderr."""
    path = "-" if source == "-" else os.path.abspath(source)
    out = sys.stdout.buffer if records else None
    with stream:
        totals = parse_stream(stream, path, settings, chain, out)
    if out is not None:
        out.flush()
    print_summary("stdin" if source == "-" else source, settings, totals, sys.stderr)
    if chain.enrichment is not None:
        for step, counts in chain.enrichment.totals.items():
            print(
                f"# enrich {step}: {counts.enriched} enriched, {counts.missed} missed, "
                f"{counts.failed} failed",
                file=sys.stderr,
            )
    return totals
