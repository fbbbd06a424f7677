"""What the tailer works with: the inputs as it runs them, the files it has open or closed,
and the view of an open file that status pages read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from logship.core.record import LogEntry
from logship.deliver.queue import SinkQueue
from logship.tail.discovery import FileFinder
from logship.tail.identity import fingerprint, head
from logship.tail.pod_context import FilePod, PodBinding
from logship.tail.reader import FileReader
from logship.tail.routing import Route
from logship.tail.settings import InputSettings
from logship.tail.stages import LineStages, file_fields
from parsers.chain import ParserChain
from parsers.selection import Hits, Selection

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".Z")


class RecordObserver(Protocol):
    """Sees every chunk of records after parsing, before queueing (log-derived metrics, alerts).

    Called on the tailer thread: it must be cheap, never block, and never mutate the records.
    """

    def observe(self, input_name: str, entries: list[LogEntry]) -> None:
        """Looks at one chunk of records of one input."""


@runtime_checkable
class SelectingObserver(RecordObserver, Protocol):
    """An observer that reads only the records some conditions hold for (alerts). When it is
    the only observer, the fast path selects them while it encodes a chunk (`Shipper`)."""

    def selection(self, input_name: str) -> Selection | None:
        """The conditions for one input's records (None: it reads every record)."""

    def observe_selected(self, input_name: str, hits: Hits) -> None:
        """Looks at the records of one chunk each condition holds for (`ParserChain.encode`)."""


@dataclass(frozen=True, slots=True)
class FileState:
    """A point-in-time view of one open file, for status pages and lag metrics."""

    input: str
    path: str
    key: str
    size: int
    read_offset: int


@dataclass
class InputRuntime:
    """One configured input as the tailer runs it: its files, its parser chain, its sink queues."""

    settings: InputSettings
    chain: ParserChain
    queues: Sequence[SinkQueue]
    own_files: frozenset[str] = frozenset()
    """The agent's own output files: never tailed, even when a glob matches them."""
    own_dirs: tuple[str, ...] = ()
    """Folders (ending in a separator) of the agent's own state: never tailed."""
    encode: bool = False
    """Every sink of this input takes NDJSON: records are encoded right after parsing."""
    routes: Sequence[Route] = ()
    """Set only when a sink of the input has a `when`: then each sink gets its share of a chunk
    (`logship.tail.routing`); otherwise every record goes to every queue in `queues`."""
    pods: PodBinding | None = None
    """Kubernetes metadata for its container files (`agent.kubernetes`), if configured."""
    finder: FileFinder = field(init=False)

    def __post_init__(self) -> None:
        self.finder = FileFinder(
            self.settings.paths, self.settings.exclude, self.settings.follow_symlinks
        )

    @property
    def name(self) -> str:
        """The input's name (metrics label)."""
        return self.settings.name

    def wants(self, path: str) -> bool:
        """False for the agent's own files, and compressed files unless `include_compressed`."""
        if path in self.own_files or path.startswith(self.own_dirs):
            return False
        if path.endswith(COMPRESSED_SUFFIXES):
            return self.settings.include_compressed and path.endswith(".gz")
        return True


@dataclass(frozen=True, slots=True)
class ClosedFile:
    """Where to resume a file closed during this run (inactive, renamed, yielded), if it grows."""

    offset: int
    fp_hash: str
    fp_bytes: int
    size: int
    mtime: float


class TailedFile:
    """An open file being tailed: reader, stages, poll schedule, and what it was opened as."""

    __slots__ = (
        "chain",
        "eof_polls",
        "file_fields",
        "file_info",
        "fp_bytes",
        "fp_hash",
        "head",
        "idle_polls",
        "input",
        "key",
        "last_data",
        "missed_events",
        "path",
        "pod",
        "predecessor",
        "predecessor_eofs",
        "reader",
        "registered_end",
        "stages",
        "woken_from_quiet",
    )

    def __init__(self, inp: InputRuntime, path: str, reader: FileReader, now: float) -> None:
        self.input = inp
        self.path = path
        self.reader = reader
        self.key = reader.identity.key
        self.file_info = {
            "path": path,
            "device_id": str(reader.identity.dev),
            "inode": str(reader.identity.ino),
        }
        self.file_fields: dict[str, Any] | None = file_fields(inp.settings, path)
        self.chain: ParserChain | None = None
        """The chain its pod's annotations chose (None: the input's)."""
        self.pod = (
            FilePod(inp.pods, self.file_fields, now)
            if inp.pods is not None and self.file_fields is not None
            else None
        )
        self.stages = LineStages(reader.offset, inp.settings)
        self.registered_end = reader.offset
        self.fp_hash, self.fp_bytes = fingerprint(reader.fd)
        self.head = head(reader.fd)
        """The first bytes as they were when opened: if they change, the file was truncated and
        rewritten (copytruncate followed by new writes past our offset), which size cannot tell."""
        self.last_data = now
        self.missed_events = 0  # reads that found data its armed watch did not report
        self.woken_from_quiet = False  # its watch fired after a quiet spell: re-arm at its end
        self.idle_polls = 0
        self.eof_polls = 0  # polls that found nothing new, in total
        self.predecessor: TailedFile | None = None
        self.predecessor_eofs = 0  # the predecessor's eof_polls when this file was opened

    def rebind(self, inp: InputRuntime) -> None:
        """After a reload: the file belongs to `inp` (the new input of the same name). If its
        framing, container or multiline settings changed, its stages restart at the end of its
        last emitted event: what the old stages held is read again, not lost."""
        old = self.input.settings
        self.input = inp
        new = inp.settings
        if (old.max_line_bytes, old.container, old.multiline) != (
            new.max_line_bytes,
            new.container,
            new.multiline,
        ):
            self.reader.offset = self.stages.emitted_end
            self.stages = LineStages(self.reader.offset, new)
            self.registered_end = self.reader.offset
            self.file_fields = file_fields(new, self.path)
        if self.pod is not None:
            self.pod.reset()  # the new input's chain and settings, with the pod's annotations

    def pod_ready(self, now: float) -> bool:
        """False while the file waits (bounded) for its pod's metadata; otherwise applies what
        changed since the last read: fields, the annotations' chain and multiline preset. A new
        preset restarts the stages at the end of the last emitted event (nothing is lost)."""
        pod = self.pod
        if pod is None:
            return True
        if pod.waiting(now):
            return False
        if pod.changed(self.input.chain):
            self.file_fields, chain, settings = pod.apply(self.input.chain, self.input.settings)
            self.chain = None if chain is self.input.chain else chain
            if settings.multiline != self.stages.settings.multiline:
                self.reader.offset = self.stages.emitted_end
                self.stages = LineStages(self.reader.offset, settings)
                self.registered_end = self.reader.offset
        return True


def distinct_queues(inputs: Sequence[InputRuntime]) -> list[SinkQueue]:
    """Every sink queue the inputs feed, each once."""
    return list({id(q): q for inp in inputs for q in inp.queues}.values())
