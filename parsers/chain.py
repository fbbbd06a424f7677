"""ParserChain: an input's ordered rules (first match wins) turning framed lines into LogEntry records.

This is the one place where LogEntry documents are completed (see `logship.core.record`): a rule
returns the parsed part (fields nested by their dotted names, `@timestamp`, `message`,
`log.level`, `tags` when it has them); the chain adds `log.file`, `log.offset`, `host.name`, the
read time when the line had no timestamp, the raw line when the rule chose no message, and
`log.flags: [truncated]`. For container logs and multiline events it also adds what the
earlier stages know per line (the runtime's time as the default `@timestamp`, `log.stream`,
`log.flags: [multiline]`) and the file's Kubernetes metadata, before `drop_if` sees the record.
Then it applies the rule's `drop_if` and the redaction settings, and last adds the input's
metadata (`fields`, `tags`, `dataset`, `service`, `ecs.version`, `agent.*`: `parsers.stamp`).

A line that no rule matches is kept: it ships with the raw text as `message` and
`tags: [parse_failure]`, unless the input says `on_no_match: drop` (then it is counted).

Nothing of an event's text is lost (DESIGN.md, invariant 2): an event joined from several lines
is parsed by each rule's `parse_event`, which appends the continuation lines the rule did not
consume to the message (`parsers.conserve`); with the input's `keep_original: true` every record
also carries the whole event text as `event.original` (set before redaction, so it is redacted
too).

`build_chains(config)` builds every input's chain from a validated config, and nothing else: it
is a pure function of the config, so a reload can build new chains and swap them in. It reads
only the parts `ChainSources` declares (the parsers section, the inputs' rule names and
metadata, the agent's identity), so parsers depend on no config module of the agent.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from logship.core.lines import Lines
from logship.core.record import LogEntry
from parsers.compiler import compile_rule
from parsers.completion import add_original, decorate, flag_truncated, per_line_extras
from parsers.fast_chunk import (
    ChunkEncoder,
    encode_records,
    generate_chunk_encoder,
    merge_stats,
    reads_fragments,
)
from parsers.native_chunk import NativeChunkEncoder
from parsers.redaction import Redactor
from parsers.rule import Rule
from parsers.selection import Selection
from parsers.stamp import AgentIdentity, Stamp, StampedInput, input_stamp

if TYPE_CHECKING:
    from parsers.enrich.step import EnrichChain
    from parsers.section import ParsersSettings

PARSE_FAILURE = "parse_failure"
NO_RULE = ""
"""The `dropped` key for lines dropped because no rule matched them (`on_no_match: drop`)."""

_EXAMPLES = 5


@dataclass(slots=True)
class ChainStats:
    """Counts from one `parse` call, for metrics.

    `matched`: records per rule (dropped ones included); `unmatched`: lines no rule matched
    (kept or dropped); `field_errors`: failed conversions / timestamps by (rule, reason);
    `dropped`: records not shipped, by rule (`drop_if`) or NO_RULE (`on_no_match: drop`);
    `unmatched_examples`: (start offset, text) of the first few lines no rule matched.
    """

    matched: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    field_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    unmatched_examples: list[tuple[int, str]] = field(default_factory=list)


class ParserChain:
    """Parses lines of one file into records with the input's rules, in order."""

    def __init__(
        self,
        rules: Sequence[Rule],
        host_name: str,
        *,
        on_no_match: Literal["keep", "drop"] = "keep",
        redactor: Redactor | None = None,
        keep_original: bool = False,
        clock: Callable[[], float] = time.time,
        stamp: Stamp | None = None,
    ) -> None:
        self.rules = list(rules)
        self.stamp = stamp
        """The input's constants (fields, tags, dataset, ECS metadata): `parsers.stamp`."""
        self.keep_original = keep_original
        self.host_name = host_name
        self.on_no_match = on_no_match
        self.redactor = redactor if redactor else None
        self.clock = clock
        self.enrichment: EnrichChain | None = None
        """The input's `enrich:` steps, set by the agent (it opens their databases); applied
        to each batch after parsing by `logship.tail.stages.parse_events`."""
        self.fast: ChunkEncoder | None = self._fast_encoder(kept=False)
        """The fused parse-and-encode loop (`parsers.fast_chunk`) when this chain allows one."""
        self.fast_kept = self._fast_encoder(kept=True) if self.fast is not None else None
        """The same loop keeping the records as dicts too, for observers."""
        self._selecting: dict[Selection, ChunkEncoder | None] = {}
        """The same loop keeping only the records a Selection holds for, per selection."""

    @property
    def path(self) -> str:
        """How plain lines of this chain are parsed and encoded, for `logship check`: "compiled"
        (the C scanner, `parsers.native_chunk`), "python" (the generated fast loop) or
        "general" (`parse`, then encoding)."""
        if isinstance(self.fast, NativeChunkEncoder):
            return "compiled"
        return "general" if self.fast is None else "python"

    def selecting_path(self, select: Selection) -> str:
        """Where `select`'s conditions are decided on this chain's plain lines, for `logship
        check`: "compiled" (in the C scanner, `parsers.native_select`), "python" (the
        generated loop) or "general" (on every record, after parsing)."""
        if not self._fuses(select):
            return "general"
        encoder = self._selecting_encoder(select)
        if isinstance(encoder, NativeChunkEncoder) and encoder.selector is not None:
            return "compiled"
        return "general" if encoder is None else "python"

    def _fuses(self, select: Selection) -> bool:
        """Whether the fast loop can select `select`'s records while it encodes them."""
        return self.fast is not None and not reads_fragments(select)

    def _selecting_encoder(self, select: Selection) -> ChunkEncoder | None:
        """The fast loop selecting `select`'s records, made once per selection (alert rules:
        per engine); reloads make new selections, so only the newest 8 are kept."""
        if select not in self._selecting:
            self._selecting[select] = self._fast_encoder(False, select)
            if len(self._selecting) > 8:
                del self._selecting[next(iter(self._selecting))]
        return self._selecting[select]

    def _fast_encoder(self, kept: bool, select: Selection | None = None) -> ChunkEncoder | None:
        # One regex/grok rule and nothing that reads or rewrites a record after the chain
        # completes it; the general path handles every other case.
        plan = self.rules[0].plan if len(self.rules) == 1 else None
        stamp = self.stamp
        if plan is None or self.redactor is not None or self.keep_original:
            return None
        if self.rules[0].drop_if is not None or (stamp and {"log", "host"} & stamp.copied.keys()):
            return None  # (input fields merged into `log` / `host`: those stay dicts)
        agent, constants = (
            (stamp.agent_objects(), stamp.copied) if stamp is not None else (None, None)
        )
        host = self.host_name
        stamped = stamp is not None
        return generate_chunk_encoder(plan, host, agent, stamped, kept, constants, select)[0]

    def encode(
        self,
        lines: Lines,
        file_info: dict[str, str],
        read_time: str,
        keep: bool = False,
        select: Selection | None = None,
    ) -> tuple[bytes, int, ChainStats, list[Any]] | None:
        """`parse` and NDJSON encoding in one pass: (the records as JSON lines, how many, stats,
        with `keep` the records as `parse` returns them, with `select` its Hits, else []): the
        bytes `encode_ndjson(parse(...))` gives; None when these lines need the general path
        (container, multiline or truncated lines; enrichment; no fast encoder), or a record
        JSON cannot hold (the caller then keeps dicts)."""
        fused = select is not None and self._fuses(select)
        # Every record as a dict (kept, or scanned afterwards) unless the loop selects them.
        as_dicts = (keep or select is not None) and not fused
        fast = self.fast_kept if as_dicts else self.fast
        if fused and select is not None:
            fast = self._selecting_encoder(select)
        if (
            fast is None
            or self.enrichment is not None
            or lines.truncated
            or lines.multiline
            or lines.times is not None
            or lines.streams is not None
        ):
            return None
        rule = self.rules[0]
        rule.refresh(self.clock())
        # The compiled encoder writes a chunk's records in one part (~300 KB), which b"".join
        # hands back without a copy; the Python loop writes a part per record, which a
        # BytesIO takes faster (each is freed once written: measured 5-7 % of that loop).
        parts: list[bytes] = []
        buffer = None if isinstance(fast, NativeChunkEncoder) else io.BytesIO()
        write: Callable[[bytes], object] = parts.append if buffer is None else buffer.write
        stats = ChainStats()
        general: list[int] = [0, 0]  # lines handed to the general path, their records
        kept: list[Any] = []
        hits = select.hits() if select is not None else None

        def fallback(line: str, start: int) -> None:
            entries, one = self.parse(Lines([line], [start], start), file_info, read_time)
            encode_records(entries, write)
            if fused:  # in its place among the selected records
                select.scan(entries, hits)  # type: ignore[union-attr, arg-type]
            elif as_dicts:
                kept.extend(entries)
            general[0] += 1
            general[1] += len(entries)
            merge_stats(stats, one, _EXAMPLES)

        stamp = self.stamp.for_chunk() if self.stamp is not None else None
        log_file = (
            file_info if as_dicts else orjson.dumps(file_info, option=orjson.OPT_NON_STR_KEYS)
        )
        target = (hits, file_info) if fused else kept.append
        try:
            fast(lines.texts, lines.starts, read_time, log_file, stamp, write, fallback, target)
        except orjson.JSONEncodeError:
            return None  # the fallbacks' counts go with the discarded stats: no double count
        n = len(lines.texts) - general[0]
        if n:
            stats.matched[rule.name] = stats.matched.get(rule.name, 0) + n
        if select is not None and hits is not None:
            if not fused:
                select.scan(kept, hits)
            kept = hits
        ndjson = b"".join(parts) if buffer is None else buffer.getvalue()
        return ndjson, n + general[1], stats, kept

    def parse(
        self,
        lines: Lines,
        file_info: dict[str, str],
        read_time: str,
        file_fields: dict[str, Any] | None = None,
    ) -> tuple[list[LogEntry], ChainStats]:
        """Records for `lines` of one file; `read_time` is `@timestamp` when a line has none.

        `file_info` becomes each record's `log.file` (path, device_id, inode); it is copied per
        record, so records never share mutable objects. `file_fields` (Kubernetes metadata of a
        container log) are added to every record.
        """
        rules = self.rules
        now = self.clock()
        for rule in rules:
            rule.refresh(now)
        host_name = self.host_name
        keep_unmatched = self.on_no_match == "keep"
        redactor = self.redactor
        needed = redactor.needed if redactor is not None else None
        stats = ChainStats()
        examples = stats.unmatched_examples
        matched = [0] * len(rules)
        dropped_by = [0] * len(rules)
        dropped_starts: list[int] = []
        unmatched = 0
        entries: list[LogEntry] = []
        append = entries.append
        copy = file_info.copy
        # An event holding `\n` (joined by multiline) goes through `parse_event`, which keeps
        # its continuation text (parsers.conserve); chunks of single lines keep plain `parse`.
        # Container lines are unwrapped JSON/CRI, so their text is checked once per chunk.
        conserve = bool(lines.multiline) or (
            lines.streams is not None and any("\n" in t for t in lines.texts)
        )
        parsers = [rule.parse_event if conserve else rule.parse for rule in rules]
        # One rule per chain is the common case: its parse function is called directly.
        single = parsers[0] if len(rules) == 1 else None
        keep_original = self.keep_original
        stamp = self.stamp.for_chunk() if self.stamp is not None else None
        drops = [rule.drop_if for rule in rules]
        substring = [rule.substring_fields for rule in rules]
        any_drop = any(d is not None for d in drops)
        indexes = range(len(rules))
        index = 0
        # Container and multiline stages add per-line facts; plain files pay one `is None` a line.
        defaults: Iterable[str] = repeat(read_time)
        if lines.times is not None:
            defaults = [t or read_time for t in lines.times]
        extras: Iterable[tuple[str, bool] | None] = repeat(None)
        if lines.streams is not None or lines.multiline or file_fields:
            extras = per_line_extras(lines)
        # strict=False: `defaults` and `extras` may be endless repeat()s.
        for text, start, default_time, extra in zip(
            lines.texts, lines.starts, defaults, extras, strict=False
        ):
            if single is not None:
                rec = single(text)
            else:
                rec = None
                for index in indexes:
                    rec = parsers[index](text)
                    if rec is not None:
                        matched[index] += 1
                        break
            if rec is None:
                unmatched += 1
                if len(examples) < _EXAMPLES:
                    examples.append((start, text))
                if not keep_unmatched:
                    dropped_starts.append(start)
                    continue
                raw: LogEntry = {
                    "@timestamp": default_time,
                    "message": text,
                    "log": {"file": copy(), "offset": start},
                    "host": {"name": host_name},
                    "tags": [PARSE_FAILURE],
                }
                if extra is not None:
                    decorate(raw, extra, file_fields)
                if keep_original:
                    raw["event"] = {"original": text}
                if needed is not None and needed(text):
                    redactor.redact_record(raw)  # type: ignore[union-attr]
                if stamp is not None:
                    stamp(raw)
                append(raw)
                continue
            if "@timestamp" not in rec:
                rec["@timestamp"] = default_time
            if "message" not in rec:
                rec["message"] = text
            log = rec.get("log")
            if log is None:
                rec["log"] = {"file": copy(), "offset": start}
            else:
                log["file"] = copy()
                log["offset"] = start
            host = rec.get("host")
            if host is None:
                rec["host"] = {"name": host_name}
            else:
                host["name"] = host_name
            if extra is not None:
                decorate(rec, extra, file_fields)
            if keep_original:
                add_original(rec, text)
            if any_drop:
                drop = drops[index]
                if drop is not None and drop(rec):
                    dropped_by[index] += 1
                    dropped_starts.append(start)
                    continue
            if needed is not None and (not substring[index] or needed(text)):
                redactor.redact_record(rec)  # type: ignore[union-attr]
            if stamp is not None:
                stamp(rec)
            append(rec)
        if single is not None:
            matched[0] = len(lines.texts) - unmatched
        stats.unmatched = unmatched
        if lines.truncated:
            flag_truncated(entries, lines, dropped_starts)
        for index, rule in enumerate(rules):
            if matched[index]:
                stats.matched[rule.name] = matched[index]
            if dropped_by[index]:
                stats.dropped[rule.name] = dropped_by[index]
            if rule.field_errors:
                for reason, n in rule.field_errors.items():
                    stats.field_errors[(rule.name, reason)] = n
                rule.field_errors.clear()
        if not keep_unmatched and unmatched:
            stats.dropped[NO_RULE] = unmatched
        return entries, stats


class ChainInput(StampedInput, Protocol):
    """What a chain is built from of an input's settings (`logship.app.config.InputSettings`)."""

    @property
    def name(self) -> str:
        """The input's name (the chains' key)."""
        ...

    @property
    def parsers(self) -> Sequence[str]:
        """Its rule names, in order."""
        ...

    @property
    def on_no_match(self) -> Literal["keep", "drop"]:
        """What becomes of a line no rule matches."""
        ...

    @property
    def keep_original(self) -> bool:
        """Whether records carry the event's text as `event.original`."""
        ...


class ChainSources(Protocol):
    """What `build_chains` reads of a validated config (`logship.app.config.Config`), and only that."""

    @property
    def parsers(self) -> ParsersSettings:
        """The `parsers:` section: rules by name, the grok library, redaction."""
        ...

    @property
    def inputs(self) -> Sequence[ChainInput]:
        """The inputs, each naming its rules."""
        ...

    @property
    def agent(self) -> AgentIdentity:
        """The agent's host name and identity (for `host.name` and the stamps)."""
        ...


def build_redactor(parsers: ParsersSettings) -> Redactor | None:
    """The redactor of the `parsers.redact` settings, or None when nothing is redacted."""
    settings = parsers.redact
    redactor = Redactor(
        list(settings.builtins),
        [(p.name, p.regex, p.replacement) for p in settings.patterns],
    )
    return redactor if redactor else None


def build_chains(
    config: ChainSources, clock: Callable[[], float] = time.time
) -> dict[str, ParserChain]:
    """Every input's ParserChain, by input name, from a validated config (nothing else is read).

    Each rule is compiled once and shared by the inputs that use it.
    """
    parsers = config.parsers
    compiled: dict[str, Rule] = {}
    redactor = build_redactor(parsers)
    chains: dict[str, ParserChain] = {}
    for inp in config.inputs:
        rules = []
        for name in inp.parsers:
            rule = compiled.get(name)
            if rule is None:
                rule = compile_rule(parsers.rule(name), parsers.library, parsers.timezone, clock)
                compiled[name] = rule
            rules.append(rule)
        chains[inp.name] = ParserChain(
            rules,
            config.agent.host_name,
            on_no_match=inp.on_no_match,
            redactor=redactor,
            keep_original=inp.keep_original,
            clock=clock,
            stamp=input_stamp(inp, config.agent),
        )
    return chains
