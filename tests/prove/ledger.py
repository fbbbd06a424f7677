"""The ledger: every line a test wrote (which file, which offset) and how often each arrived.

Lines are numbered: line n is `line <n> <padding>` and its record carries `"n": <n>` (the
`numbered` rule). The ledger answers the questions of the proof: which lines were lost, which
arrived more than once, and how many delivered lines lay past the checkpoint when the agent
died (the in-flight window that a restart sends again).
"""

from __future__ import annotations

import bisect
import re
import threading
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from logship.state.checkpoint import FileCheckpoint
from sinks.elasticsearch.encoder import document_id

RULE = {"name": "numbered", "regex": r"^line (?P<n>\d+) (?P<pad>.*)$", "types": {"n": "int"}}
N_FIELD = re.compile(rb'"n":(\d+)')
"""Finds the line number in a record's JSON (no other field of these records is named n)."""


@dataclass
class FileGeneration:
    """One file as the writer made it (a rotation starts a new generation under the same path)."""

    key: str
    """`<dev>:<ino>`, as in the registry."""
    dev: int
    ino: int
    numbers: array[int] = field(default_factory=lambda: array("q"))
    offsets: array[int] = field(default_factory=lambda: array("q"))
    """Line numbers and their start offsets, in file order (offsets increase)."""


@dataclass(frozen=True, slots=True)
class Accounting:
    """What arrived, compared with what was written."""

    written: int
    delivered: int
    """Records received, duplicates included."""
    lost: list[int]
    duplicates: int
    """Records beyond the first of their line."""
    most_copies: int
    unknown: int
    """Records of lines never written (must be 0)."""

    def summary(self) -> str:
        """One line for the report."""
        return (
            f"written {self.written:,}, delivered {self.delivered:,}, lost {len(self.lost):,}, "
            f"duplicates {self.duplicates:,} (at most {self.most_copies} copies of a line), "
            f"unknown {self.unknown}"
        )


class Ledger:
    """Every line written; thread-safe for one writer thread and readers."""

    def __init__(self, with_ids: bool = False) -> None:
        self.files: list[FileGeneration] = []
        self.written = 0
        self.high = 0
        """One more than the highest line number written."""
        self._lock = threading.Lock()
        self._with_ids = with_ids
        self.ids: dict[str, int] = {}
        """Elasticsearch document id -> line number (only `with_ids`)."""

    def new_file(self, dev: int, ino: int) -> FileGeneration:
        """Registers a file generation the writer just created."""
        generation = FileGeneration(f"{dev}:{ino}", dev, ino)
        with self._lock:
            self.files.append(generation)
        return generation

    def wrote(self, generation: FileGeneration, lines: list[tuple[int, int, str]]) -> None:
        """Records lines (number, start offset, text without newline) appended to a file."""
        with self._lock:
            for n, offset, text in lines:
                generation.numbers.append(n)
                generation.offsets.append(offset)
                if self._with_ids:
                    self.ids[self._id(generation, offset, text)] = n
            self.written += len(lines)
            self.high = max(self.high, max(n for n, _, _ in lines) + 1)

    @staticmethod
    def _id(generation: FileGeneration, offset: int, text: str) -> str:
        return document_id(
            {
                "message": text,
                "log": {
                    "file": {"device_id": str(generation.dev), "inode": str(generation.ino)},
                    "offset": offset,
                },
            }
        )

    def counts(self, numbers: Iterable[int]) -> tuple[bytearray, int]:
        """Copies per line number (capped at 255) and how many numbers were never written."""
        counts = bytearray(self.high)
        unknown = 0
        for n in numbers:
            if 0 <= n < len(counts):
                if counts[n] < 255:
                    counts[n] += 1
            else:
                unknown += 1
        return counts, unknown

    def account(self, numbers: Iterable[int]) -> Accounting:
        """Compares the line numbers of every record received with what was written."""
        numbers = list(numbers)
        counts, unknown = self.counts(numbers)
        lost = [n for n, c in enumerate(counts) if c == 0]
        return Accounting(
            written=self.written,
            delivered=len(numbers),
            lost=lost,
            duplicates=sum(c - 1 for c in counts if c > 1),
            most_copies=max(counts, default=0),
            unknown=unknown,
        )

    def past_checkpoint(self, counts: bytearray, checkpoints: dict[str, FileCheckpoint]) -> int:
        """Lines delivered at least once that lie at or past their file's checkpoint.

        After a crash these are read and sent again: the in-flight window of that crash.
        """
        total = 0
        with self._lock:
            files = list(self.files)
        for generation in files:
            saved = checkpoints.get(generation.key)
            start = bisect.bisect_left(generation.offsets, saved.offset if saved else 0)
            total += sum(1 for n in generation.numbers[start:] if n < len(counts) and counts[n] > 0)
        return total

    def lowest_undelivered_offsets(self, counts: bytearray) -> dict[str, int]:
        """Per file key with a line not delivered yet, the offset where its first such line starts."""
        out: dict[str, int] = {}
        with self._lock:
            files = list(self.files)
        for generation in files:
            for n, offset in zip(generation.numbers, generation.offsets, strict=True):
                if n >= len(counts) or counts[n] == 0:
                    out[generation.key] = offset
                    break
        return out
