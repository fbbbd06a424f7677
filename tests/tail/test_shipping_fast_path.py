"""The tailer's shipping of chunks through the fast path (`parsers.fast_chunk`): what it queues
for sinks that take NDJSON, and what observers see, against the general path."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.ndjson import encode_ndjson
from logship.core.record import LogEntry
from logship.deliver.queue import SinkQueue
from logship.tail.files import InputRuntime
from logship.tail.framing import LineFramer
from logship.tail.settings import InputSettings
from logship.tail.shipping import Shipper
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.section import ParsersSettings

FILE = {"path": "/var/log/app.log", "device_id": "1", "inode": "2"}
# Every line has its own time, so records do not depend on when they were read.
DATA = b"".join(
    f"2026-01-01T00:00:{i % 60:02d}Z {'GET' if i % 3 else 'POST'} /item/{i} {200 + i % 5}\n".encode()
    for i in range(300)
)


class Seen:
    """An observer keeping what it was shown."""

    def __init__(self) -> None:
        self.records: list[LogEntry] = []

    def observe(self, input_name: str, entries: list[LogEntry]) -> None:
        self.records += entries


def counted(encoder: Any, calls: list[int]) -> Any:
    def encode(*args: Any) -> Any:
        calls.append(1)
        return encoder(*args)

    return encode


def shipped(encode: bool, observers: list[Any]) -> tuple[Batch, ParserChain, int]:
    """Ships DATA as one chunk; returns the queued batch, the chain, and how many chunks its
    fast path encoded."""
    section = ParsersSettings()
    rule = compile_rule(
        RuleSettings.model_validate(
            {
                "name": "access",
                "regex": r"^(?P<t>\S+) (?P<method>\S+) (?P<path>\S+) (?P<status>\d+)$",
                "types": {"status": "int"},
                "timestamp": {"field": "t", "format": "ISO8601"},
            }
        ),
        section.library,
    )
    chain = ParserChain([rule], "host-1")
    calls: list[int] = []
    chain.fast, chain.fast_kept = counted(chain.fast, calls), counted(chain.fast_kept, calls)
    queue = SinkQueue(100_000, 1 << 30)
    settings = InputSettings.model_validate({"name": "app", "paths": ["/var/log/*.log"]})
    inp = InputRuntime(settings, chain, [queue], encode=encode)
    acks = AckTracker()
    acks.track("k", 0)
    tf = SimpleNamespace(
        input=inp, chain=None, file_info=FILE, file_fields=None, registered_end=0, key="k"
    )
    Shipper(acks, Metrics(), observers).ship(tf, LineFramer(0, 1 << 20).feed(DATA))  # type: ignore[arg-type]
    batch = queue.take(100_000, 1 << 30, 0)
    assert batch is not None
    return batch, chain, len(calls)


def test_sinks_that_take_ndjson_get_the_general_paths_bytes_in_one_encoded_batch() -> None:
    batch, chain, fast = shipped(encode=True, observers=[])
    entries, _ = chain.parse(LineFramer(0, 1 << 20).feed(DATA), FILE, "unused")
    assert fast == 1
    assert batch.ndjson == encode_ndjson(entries)
    assert len(batch) == 300
    assert batch.entries == []
    assert len(batch.tickets) == 1


def test_observers_see_the_records_as_dicts_while_sinks_get_ndjson() -> None:
    seen = Seen()
    batch, chain, fast = shipped(encode=True, observers=[seen])
    entries, _ = chain.parse(LineFramer(0, 1 << 20).feed(DATA), FILE, "unused")
    assert fast == 1
    assert seen.records == entries
    assert batch.ndjson == encode_ndjson(entries)


def test_sinks_that_read_fields_get_the_records_as_dicts() -> None:
    batch, chain, fast = shipped(encode=False, observers=[])
    entries, _ = chain.parse(LineFramer(0, 1 << 20).feed(DATA), FILE, "unused")
    assert fast == 0
    assert batch.ndjson is None
    assert batch.entries == entries
