"""The compiled fast path: a chunk scanned and encoded in C when the rule allows it.

`parsers._fastscan` (C, built by `pip install` when a compiler is there; optional) runs a
rule's scan program (`parsers.scan_program`) over each ASCII line of a chunk and writes the
record from its template (`parsers.record_template`): no regex engine, no match object, no
dict, no Python string per field (only a timestamp or level lookup makes one). Lines it does not take (not ASCII, no match, a value it
cannot write the way Python would) are written by the Python fast loop in their place, so the
output is byte for byte the Python loop's (tests compare both on the corpora).

Without the extension, or with `LOGSHIP_PURE_PYTHON=1` in the environment, or for a rule
outside the subset, the Python loop does everything, as before.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from typing import Any

import orjson

from parsers.builder import BuilderPlan
from parsers.native_select import Slots, selector_spec
from parsers.record_template import PROBE_KINDS, record_template
from parsers.scan_program import CLOSE, OPEN, scan_program
from parsers.selection import Selection

_fastscan: Any
try:
    _fastscan = importlib.import_module("parsers._fastscan")
except ImportError:  # not built (no compiler at install time): the Python loop does it all
    _fastscan = None

ENABLED = _fastscan is not None and os.environ.get("LOGSHIP_PURE_PYTHON", "") in ("", "0")
"""Whether chains use the compiled scanner where their rule allows it."""

split_ascii_lines: Callable[[bytes, int], tuple[list[str], list[int], int]] | None = (
    _fastscan.split_lines if ENABLED else None
)
"""`split_ascii_lines(data, start)`: (texts, starts, longest) of ASCII `data` that ends with a
newline, in one pass (the framer's hot path); None without the extension."""

_PAUSE = 64
"""Chunks left to the Python loop after one where the scanner handed back more than a quarter
of the lines (mostly non-ASCII text, or a rule that rarely matches): then trying C first
would only add its cost."""

PythonEncoder = Callable[..., None]


def _no_timestamp(text: str) -> None:
    """The parser of a rule without a timestamp (its template has no timestamp to fill)."""


class NativeChunkEncoder:
    """A chunk encoder (`parsers.fast_chunk.ChunkEncoder`) backed by the compiled scanner.

    With a `selector` (`parsers.native_select`) it is a selecting encoder: `keep` is
    `(hits, file_info)`, C adds its counts to `hits.count_sets`, and `python` is the selecting
    Python loop, which adds the records of the lines C hands back to `hits`."""

    def __init__(
        self, native: Any, python: PythonEncoder, slots: Slots, selector: Any = None
    ) -> None:
        self.native = native
        self.python = python
        self.slots = slots
        """Where the record's values sit (`parsers.record_template.Template.fields`)."""
        self.selector = selector
        self.pause = 0

    def selecting(self, selection: Selection, python: PythonEncoder) -> NativeChunkEncoder | None:
        """This encoder deciding `selection` in C, with the selecting Python loop `python` for
        the lines it hands back; None when the conditions are outside what C decides."""
        spec = selector_spec(selection, self.slots)
        if spec is None:
            return None
        return NativeChunkEncoder(self.native, python, self.slots, _fastscan.Selector(*spec))

    def __call__(
        self,
        texts: list[str],
        starts: list[int],
        default_time: str,
        log_file: bytes,
        stamp: Any,
        write: Callable[[bytes], Any],
        fallback: Callable[[str, int], None],
        keep: Any,
    ) -> None:
        """Encodes the chunk like the Python loop `python` would; see the module docstring."""
        if self.pause:
            self.pause -= 1
            self.python(texts, starts, default_time, log_file, stamp, write, fallback, keep)
            return
        time = orjson.dumps(default_time)
        if self.selector is None:
            out, misses = self.native.encode(texts, starts, time, log_file)
        else:
            out, misses, counted = self.native.encode(
                texts, starts, time, log_file, self.selector, default_time
            )
            if len(counted):
                keep[0].count_sets.append(counted)
        if not misses:
            write(out)
            return
        at = 0
        python = self.python
        for index, position in misses:
            if position > at:
                write(out[at:position])
            at = position
            one = slice(index, index + 1)
            python(texts[one], starts[one], default_time, log_file, stamp, write, fallback, keep)
        if at < len(out):
            write(out[at:])
        if 4 * len(misses) > len(texts):
            self.pause = _PAUSE


def native_encoder(
    plan: BuilderPlan, source: str, namespace: dict[str, Any], python: PythonEncoder
) -> NativeChunkEncoder | None:
    """The compiled encoder of a chunk encoder's `source` (run in `namespace`), or None when
    the extension is off or the rule or record is outside what it does."""
    if not ENABLED or plan.pattern is None or not plan.kinds <= PROBE_KINDS:
        return None
    pattern = plan.pattern
    if not isinstance(pattern, re.Pattern):
        return None
    program = scan_program(pattern.pattern, pattern.flags)
    if program is None:
        return None
    groups = pattern.groups
    opened = {op[1] for op in program if op[0] == OPEN}
    closed = {op[1] for op in program if op[0] == CLOSE}
    if opened != closed or opened != set(range(1, groups + 1)):
        return None
    template = record_template(source, namespace, groups)
    cache, parse = namespace.get("_tsc"), namespace.get("_tsp") or _no_timestamp
    levels = namespace.get("_lvl") or {}  # a dict (LevelNormalizer) when the rule has levels
    if template is None or not isinstance(cache, dict) or not callable(parse):
        return None
    if not isinstance(levels, dict):
        return None
    native = _fastscan.Encoder(program, template.pieces, groups, cache, parse, levels)
    return NativeChunkEncoder(native, python, template.fields)
