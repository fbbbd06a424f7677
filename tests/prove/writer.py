"""A log writer thread: numbered lines at a steady rate into one or more files, rotated by rename.

Rotated files keep matching the input's glob (`app-0.log.3`) and are never deleted, so every
line stays readable whatever the agent was doing when the file moved. Paced in slices of 10 ms:
`rate` lines/s on average, or as fast as it can when rate is None.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from tests.prove.ledger import FileGeneration, Ledger

_SLICE = 0.01


class LogWriter(threading.Thread):
    """Writes `total` lines, line n to file n % files, rotating each file every ~`rotate_every` lines."""

    def __init__(
        self,
        folder: Path,
        ledger: Ledger,
        total: int,
        rng: random.Random,
        rate: float | None = None,
        files: int = 1,
        rotate_every: int | None = None,
    ) -> None:
        super().__init__(name="log-writer", daemon=True)
        self.folder = folder
        self.ledger = ledger
        self.total = total
        self.rate = rate
        self.files = files
        self.rotate_every = rotate_every
        self.rotations = 0
        self.error: BaseException | None = None
        # Everything random is drawn up front, so a seed replays the same lines and rotations.
        self._pads = [rng.randrange(8, 160) for _ in range(997)]
        self._rotate_at = [self._next_rotation(rng, 0) for _ in range(files)]
        self._rng = rng
        self._halt = threading.Event()
        folder.mkdir(parents=True, exist_ok=True)
        self._current: list[tuple[FileGeneration, int]] = [self._create(i) for i in range(files)]

    def path(self, index: int) -> Path:
        """Where file `index` is written now."""
        return self.folder / f"app-{index}.log"

    def _next_rotation(self, rng: random.Random, written: int) -> int | None:
        if self.rotate_every is None:
            return None
        return written + rng.randrange(self.rotate_every // 2, self.rotate_every * 3 // 2)

    def _create(self, index: int) -> tuple[FileGeneration, int]:
        path = self.path(index)
        path.touch()
        st = path.stat()
        return self.ledger.new_file(st.st_dev, st.st_ino), 0

    def _rotate(self, index: int) -> None:
        self.rotations += 1
        os.rename(self.path(index), self.folder / f"app-{index}.log.{self.rotations}")
        self._current[index] = self._create(index)

    def line(self, n: int) -> str:
        """The text of line n (without its newline)."""
        return f"line {n} {'x' * self._pads[n % len(self._pads)]}"

    def run(self) -> None:
        try:
            self._write_all()
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        """Stops early (the ledger holds what was written)."""
        self._halt.set()

    def _write_all(self) -> None:
        started = time.monotonic()
        per_slice = max(1, round(self.rate * _SLICE)) if self.rate else 2000
        n = 0
        written_per_file = [0] * self.files
        while n < self.total and not self._halt.is_set():
            batch: dict[int, list[int]] = {}
            for m in range(n, min(n + per_slice, self.total)):
                batch.setdefault(m % self.files, []).append(m)
            for index, numbers in batch.items():
                self._append(index, numbers)
                written_per_file[index] += len(numbers)
                due = self._rotate_at[index]
                if due is not None and written_per_file[index] >= due:
                    self._rotate(index)
                    self._rotate_at[index] = self._next_rotation(self._rng, written_per_file[index])
            n += per_slice
            if self.rate:
                ahead = started + n / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    def _append(self, index: int, numbers: list[int]) -> None:
        generation, offset = self._current[index]
        texts = [self.line(m) for m in numbers]
        data = "".join(t + "\n" for t in texts).encode()
        records = []
        for m, text in zip(numbers, texts, strict=True):
            records.append((m, offset, text))
            offset += len(text) + 1
        # Recorded before the write: a reader may see the lines as soon as they are on disk.
        self.ledger.wrote(generation, records)
        with self.path(index).open("ab") as f:
            f.write(data)
        self._current[index] = (generation, offset)
