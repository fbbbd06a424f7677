"""The fast path of a chain: a chunk of plain lines parsed and encoded to NDJSON in one loop.

`ParserChain.parse` followed by NDJSON encoding builds every record of a chunk, completes it
line by line (`@timestamp`, `message`, `log`, `host`, the stamp), keeps the chunk's records
alive, then walks them again to encode them. For the common case -- one regex or grok rule,
plain lines of a file, records that no later stage reads as dicts -- this module generates one
function per chain that does all of it per line, straight from the match groups:

    def encode(texts, starts, default_time, log_file, stamp, write, fallback):
        for line, start in zip(texts, starts):
            m = _match(line)
            if m is None:
                fallback(line, start)
                continue
            <the rule's generated body: binds rec>        (parsers.builder)
            rec['@timestamp'] = ...; rec['message'] = line; rec['log'] = {...}; ...
            write(_dumps(rec, option=_OPT))

The objects every record of the chunk shares (`log.file`, `host`, the agent's `ecs` and
`agent`) are encoded once, as `orjson.Fragment`s. Each record is encoded while it is still in
the CPU cache and freed at once. A line the rule does not match, or that needs the rule's
generic path (a failed conversion or timestamp), goes to `fallback`, the chain's general path,
in its place in the output: the bytes are the same as the general path's, in the same order
(tests compare both on the corpora and the golden fixtures).

For rules a delimiter scanner can run, the plain encoder (not the kept or selecting ones) is
replaced by its compiled twin (`parsers.native_chunk`), which hands this loop the lines it
cannot write the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson

from logship.core.ndjson import OPTIONS
from logship.core.record import LogEntry
from parsers.builder import BAIL, BuilderPlan
from parsers.native_chunk import NativeChunkEncoder, native_encoder
from parsers.selection import Selection

ChunkEncoder = Callable[..., None]
"""`encode(texts, starts, default_time, log_file, stamp, write, fallback, keep)`: see the
module docstring. `log_file` is the file's `log.file` (its JSON bytes, or a dict copied per
record for kept records), `stamp` the chunk's stamp function (or None), `write` takes each record's
JSON line, `fallback(line, start)` writes the general path's record of a line (or nothing,
when it is dropped), `keep` takes each record when the encoder keeps them."""


class _Miss(Exception):
    """The rule's body asked for its generic path (`BAIL`)."""


def fragment(value: Any) -> orjson.Fragment:
    """`value` encoded once, to be embedded as it is in every record of a chunk."""
    return orjson.Fragment(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def generate_chunk_encoder(
    plan: BuilderPlan,
    host_name: str,
    agent_objects: tuple[dict[str, Any], dict[str, Any]] | None,
    stamped: bool,
    kept: bool = False,
    constants: Any = None,
    selection: Selection | None = None,
) -> tuple[ChunkEncoder, str]:
    """The fused loop of a rule's `plan` and the chain's completion of records, and its source.

    `agent_objects`: the (ecs, agent) objects when they are all the input's stamp adds (the
    default); `stamped`: the input has a stamp (then, unless `agent_objects` can be embedded
    as fragments, the chunk's stamp function is called per record). `kept`: every record is
    also handed to `keep` (for observers: alerts, derived metrics), so it holds plain objects
    (no fragments), as the general path's records do. `constants`: what the stamp adds besides
    them (its keys decide the orjson options). `selection`: each record is checked against
    its conditions right after it is encoded, and only the ones some condition holds for are
    turned into plain objects (as `kept` records are) and appended to the hits; then `keep` is
    `(hits, file_info)`.
    """
    namespace: dict[str, Any] = dict(plan.namespace)
    namespace.update(
        _dumps=orjson.dumps,
        # Without OPT_NON_STR_KEYS orjson encodes a record ~0.3 us faster; records get only
        # string keys unless a constant has others (then the option stays). A key that is
        # not a string anyway fails the encoding, and the chunk takes the general path.
        _OPT=OPTIONS
        if _other_keys([constants, *plan.namespace.values()])
        else orjson.OPT_APPEND_NEWLINE,
        _Miss=_Miss,
        _Skip=(*namespace["_Errors"], _Miss),
        _host_name=host_name,
        _host=fragment({"name": host_name}),
        _Fragment=orjson.Fragment,
    )
    maybe = set(plan.top_keys)  # keys the rule may set (a superset of `always`)
    always = set(plan.always)
    if plan.hooks:
        maybe |= {"@timestamp", "message", "log", "host", "ecs", "agent"}
        always = set()
    body = [line.replace(BAIL, "raise _Miss") for line in plan.body]
    # The chain's completion of a record (ParserChain.parse), in its order, so the bytes are
    # the same: keys the rule never sets join the rule's dict display (one allocation, no
    # resize) as long as no statement has to come before them.
    shown: list[str] = []
    after: list[str] = []  # statements into objects the rule always makes
    done: list[str] = []
    if not body[-1].startswith("rec = {"):
        done.append("# the rule's optional fields and hooks come first: statements only")

    def add(key: str, value: str, inner: list[str], generic: list[str]) -> None:
        if key in always:
            after.extend(inner)
        elif key in maybe:
            done.extend(generic)
        elif done:
            done.append(f"rec[{key!r}] = {value}")
        else:
            shown.append(f"{key!r}: {value}")

    for key, value in (("@timestamp", "default_time"), ("message", "line")):
        add(key, value, [], [f"if {key!r} not in rec:", f"    rec[{key!r}] = {value}"])
    file = "log_file.copy()" if kept else "log_file"
    host = "{'name': _host_name}" if kept else "_host"
    add(
        "log",
        f"{{'file': {file}, 'offset': start}}",
        ["log = rec['log']", f"log['file'] = {file}", "log['offset'] = start"],
        [
            "log = rec.get('log')",
            "if log is None:",
            f"    rec['log'] = {{'file': {file}, 'offset': start}}",
            "else:",
            f"    log['file'] = {file}",
            "    log['offset'] = start",
        ],
    )
    add(
        "host",
        host,
        ["rec['host']['name'] = _host_name"],
        [
            "host = rec.get('host')",
            "if host is None:",
            f"    rec['host'] = {host}",
            "else:",
            "    host['name'] = _host_name",
        ],
    )
    # What makes a selected record the same dict as a kept one: its objects, not fragments
    # (values replaced in place keep the keys' order; ecs and agent are the last two keys).
    thaw = ["rec['log']['file'] = _file.copy()", "if rec['host'] is _host:"]
    thaw.append("    rec['host'] = {'name': _host_name}")
    if agent_objects is not None and not kept and not maybe & {"ecs", "agent"}:
        namespace["_ecs"], namespace["_agent"] = (fragment(o) for o in agent_objects)
        add("ecs", "_ecs", [], [])
        add("agent", "_agent", [], [])
        thaw += ["del rec['ecs'], rec['agent']", "stamp(rec)"]
    elif stamped:
        done.append("stamp(rec)")
    if shown:
        body[-1] = body[-1][:-1] + (", " if body[-1] != "rec = {}" else "") + ", ".join(shown) + "}"
    lines = ["def encode(texts, starts, default_time, log_file, stamp, write, fallback, keep):"]
    if not kept:
        lines.append("    log_file = _Fragment(log_file)")
    if selection is not None:
        namespace.update(selection.env)
        lines.append("    _s_hits, _file = keep")
    lines += [
        "    for line, start in zip(texts, starts):",
        "        m = _match(line)",
        "        if m is None:",
        "            fallback(line, start)",
        "            continue",
    ]
    count = plan.group_count
    if count:
        targets = ", ".join(f"_{i}" for i in range(1, count + 1))
        lines.append(f"        {targets}{',' if count == 1 else ''} = m.groups()")
    lines.append("        try:")
    lines.extend(f"            {line}" for line in body)
    lines += [
        "        except _Skip:",
        "            fallback(line, start)",
        "            continue",
    ]
    if kept:
        done.append("keep(rec)")
    lines.extend(f"        {line}" for line in [*after, *done, "write(_dumps(rec, option=_OPT))"])
    if selection is not None:
        lines += selection.body("rec", "        ", thaw)
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<chunk encoder>", "exec"), namespace)  # noqa: S102 - our own generated code
    encode: ChunkEncoder = namespace["encode"]
    if not kept and selection is None:
        native = native_encoder(plan, source, namespace, encode)
        if native is not None:
            return native, source
    if not kept and selection is not None:
        # The compiled twin of the plain loop, deciding the conditions in C when it can.
        plain = generate_chunk_encoder(plan, host_name, agent_objects, stamped, False, constants)
        if isinstance(plain[0], NativeChunkEncoder):
            selecting = plain[0].selecting(selection, encode)
            if selecting is not None:
                return selecting, source
    return encode, source


def reads_fragments(selection: Selection) -> bool:
    """True when a condition reads a field the fast path holds as a fragment until a record is
    selected (`log.file`, `host`, `ecs`, `agent`): such selections scan kept records instead."""
    return any(
        f.split(".")[0] in ("host", "ecs", "agent") or f == "log" or f.startswith("log.file")
        for f in selection.fields
    )


def _other_keys(value: Any) -> bool:
    """True if `value` holds a dict with a key that is not a string, at any depth."""
    if isinstance(value, dict):
        return any(type(k) is not str or _other_keys(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_other_keys(v) for v in value)
    return False


def encode_records(entries: list[LogEntry], write: Callable[[bytes], Any]) -> None:
    """Writes records as JSON lines (the general path's records, in the fast path's output)."""
    dumps = orjson.dumps
    for entry in entries:
        write(dumps(entry, option=OPTIONS))


class Counts(Protocol):
    """What `merge_stats` adds up (`parsers.chain.ChainStats`, which imports this module)."""

    matched: dict[str, int]
    unmatched: int
    field_errors: dict[tuple[str, str], int]
    dropped: dict[str, int]
    unmatched_examples: list[tuple[int, str]]


def merge_stats(stats: Counts, one: Counts, examples: int) -> None:
    """Adds the counts of `one` (the general path's, for a line) to `stats`; keeps at most
    `examples` unmatched examples."""
    for counts, more in ((stats.matched, one.matched), (stats.dropped, one.dropped)):
        for key, n in more.items():
            counts[key] = counts.get(key, 0) + n
    for error, n in one.field_errors.items():
        stats.field_errors[error] = stats.field_errors.get(error, 0) + n
    stats.unmatched += one.unmatched
    room = examples - len(stats.unmatched_examples)
    stats.unmatched_examples.extend(one.unmatched_examples[: max(room, 0)])
