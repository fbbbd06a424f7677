"""The three sinks as proof targets: a file, a Kafka-protocol broker (tests.prove.kafka_target)
and a fake Elasticsearch.

Each target gives the agent's sink config, reads back the line number of every record that
arrived (duplicates included), waits until what the agent delivered is visible (`settle`), and
can make its sink unavailable (`down` / `up`) or slow (`slow` / `fast`).
"""

from __future__ import annotations

import threading
import time
from array import array
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pytest

from tests.doubles.es_server import EsServer
from tests.doubles.tansu import tansu_binary
from tests.prove.kafka_target import BATCH, RETRY, KafkaTarget, create_topic
from tests.prove.ledger import N_FIELD, Ledger
from tests.prove.small_disk import SmallDisk

__all__ = ["BATCH", "RETRY", "KafkaTarget", "create_topic"]


class Target(Protocol):
    """A sink the proof writes through and reads back."""

    name: str

    def sink(self) -> dict[str, Any]:
        """The sink's config entry."""

    def numbers(self) -> array[int]:
        """The line number of every record received so far, duplicates included."""

    def settle(self) -> None:
        """Waits until everything the (now dead or stopped) agent delivered can be read."""

    def delivered_while_down(self) -> array[int]:
        """Called just after `up`: the line numbers delivered before the sink came back."""

    def down(self) -> None:
        """Makes the sink unavailable."""

    def up(self) -> None:
        """Makes it available again."""

    def slow(self) -> None:
        """Makes every request take seconds."""

    def fast(self) -> None:
        """Back to normal speed."""

    def close(self) -> None:
        """Releases what the target started."""


class FileTarget:
    """The file sink; its folder can be a small file system of its own, to fill it up."""

    name = "file"

    def __init__(
        self, root: Path, disk_size: str | None = None, delivery: str = "at_least_once"
    ) -> None:
        self.delivery = delivery
        self.folder = root / "out"
        self.disk = SmallDisk(self.folder, disk_size).mount() if disk_size else None
        self.path = self.folder / "logs.ndjson"
        self._numbers: array[int] = array("q")
        self._offset = 0
        self._last = b""
        self._at_up = 0
        self._lock = threading.Lock()

    def sink(self) -> dict[str, Any]:
        return {
            "name": "out",
            "type": "file",
            "path": str(self.path),
            "batch": BATCH,
            "retry": RETRY,
            "delivery": self.delivery,
        }

    def numbers(self) -> array[int]:
        """Reads what was appended since the last call (complete lines only).

        With exactly_once, a restart may cut the file back (lines written but never
        checkpointed) and write on from there: when the bytes last read are not there any
        more, the numbers are read again from the start."""
        with self._lock:
            try:
                with self.path.open("rb") as f:
                    if self._offset and self._changed(f):
                        self._numbers = array("q")
                        self._offset = 0
                        self._last = b""
                    f.seek(self._offset)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            end = data.rfind(b"\n") + 1
            if end:
                self._numbers.extend(int(m) for m in N_FIELD.findall(data, 0, end))
                self._last = (self._last + data[:end])[-4096:]
                self._offset += end
            return self._numbers

    def _changed(self, f: BinaryIO) -> bool:
        """True if the bytes before the read offset are not the ones read there."""
        f.seek(self._offset - len(self._last))
        return f.read(len(self._last)) != self._last

    def settle(self) -> None:
        pass  # the agent's writes are done when its process is

    def down(self) -> None:
        assert self.disk is not None, "a file target needs its own disk to be made unavailable"
        self.disk.fill()

    def up(self) -> None:
        assert self.disk is not None
        self._at_up = len(self.numbers())
        self.disk.free()

    def delivered_while_down(self) -> array[int]:
        return self.numbers()[: self._at_up]

    def slow(self) -> None:
        raise NotImplementedError("no way to slow a local disk down here (no device-mapper)")

    fast = slow

    def close(self) -> None:
        if self.disk is not None:
            self.disk.unmount()


class _PieceReader:
    """Incremental reader of one output file (see FileTarget.numbers), by inode."""

    def __init__(self, path: Path) -> None:
        self.target = FileTarget.__new__(FileTarget)
        self.target.path = path
        self.target.delivery = "exactly_once"
        self.target._numbers = array("q")
        self.target._offset = 0
        self.target._last = b""
        self.target._lock = threading.Lock()


class RotatingFileTarget(FileTarget):
    """The file sink rotating its output by size: the records of every rotated file (in
    rotation order), then of the current one."""

    name = "file"

    def __init__(self, root: Path, delivery: str, max_bytes: int) -> None:
        super().__init__(root, None, delivery)
        self.max_bytes = max_bytes
        self._pieces: dict[int, _PieceReader] = {}

    def sink(self) -> dict[str, Any]:
        return {**super().sink(), "rotate": {"max_bytes": self.max_bytes}}

    def numbers(self) -> array[int]:
        files = [*sorted(self.folder.glob(self.path.name + ".*")), self.path]
        out = array("q")
        seen: set[int] = set()
        for path in files:
            try:
                inode = path.stat().st_ino
            except FileNotFoundError:
                continue
            piece = self._pieces.get(inode)
            if piece is None:
                piece = self._pieces[inode] = _PieceReader(path)
            piece.target.path = path  # the current file keeps its inode when rotated
            seen.add(inode)
            out.extend(piece.target.numbers())
        for inode in set(self._pieces) - seen:
            del self._pieces[inode]  # removed by a restart (written after the checkpoint)
        return out

    def rotated(self) -> int:
        """Rotated files now."""
        return len(list(self.folder.glob(self.path.name + ".*")))


class ElasticsearchTarget:
    """The Elasticsearch sink, to the fake cluster in this process (ids only, like a real index).

    Records are known by their deterministic `_id` (file identity, offset, message): the ledger
    computes the id of every line written, so an id maps back to its line number.
    """

    name = "elasticsearch"
    INDEX = "logs-generic-default"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.server = EsServer(keep_sources=False).start()
        self._at_up: array[int] = array("q")

    def sink(self) -> dict[str, Any]:
        return {
            "name": "es",
            "type": "elasticsearch",
            "hosts": [self.server.url],
            "batch": BATCH,
            "retry": RETRY,
            "request_timeout": "5s",
        }

    def numbers(self) -> array[int]:
        state = self.server.state
        with state.lock:
            ids = list(state.docs.get(self.INDEX, {}))
        known = self.ledger.ids
        return array("q", (known.get(i, -1) for i in ids))

    def replays(self) -> int:
        """Items the cluster refused as already indexed (409): lines sent again after a crash."""
        with self.server.state.lock:
            return sum(b.item_statuses.count(409) for b in self.server.state.bulks)

    def settle(self) -> None:
        # A bulk request the agent sent just before it died may still be being indexed.
        time.sleep(0.3)

    def delivered_while_down(self) -> array[int]:
        return self._at_up

    def down(self) -> None:
        self.server.down()

    def up(self) -> None:
        self._at_up = self.numbers()
        self.server.up()

    def slow(self) -> None:
        self.server.state.delay = 2.0

    def fast(self) -> None:
        self.server.state.delay = 0.0

    def close(self) -> None:
        self.server.stop()


def make_target(name: str, root: Path, ledger: Ledger, disk_size: str | None = None) -> Target:
    """The target of a sink type; a file target on a small disk of its own when `disk_size`.

    `file-eos` and `kafka-eos` are the sinks with `delivery: exactly_once`; `tansu-eos` is
    Kafka exactly-once into Tansu (skipped when Tansu is not installed)."""
    if name == "file":
        return FileTarget(root, disk_size)
    if name == "file-eos":
        return FileTarget(root, disk_size, delivery="exactly_once")
    if name == "file-eos-rotating":
        return RotatingFileTarget(root, "exactly_once", max_bytes=300_000)
    if name == "kafka":
        return KafkaTarget()
    if name == "kafka-eos":
        return KafkaTarget(delivery="exactly_once")
    if name == "tansu-eos":
        binary = tansu_binary()
        if binary is None:
            pytest.skip("Tansu is not installed (make tansu)")
        return KafkaTarget(delivery="exactly_once", tansu=binary)
    return ElasticsearchTarget(ledger)
