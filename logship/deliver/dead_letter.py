"""Dead letters: records a sink rejected for good, kept in a JSONL file with the reason.

One file per sink in `<data_dir>/dead-letter/<sink>.jsonl` (with `workers: N`, one per worker:
`<sink>.worker-<i>.jsonl`), mode 0600 (records may hold
personal data). Each line: `{"time", "sink", "reason", "record"}`. Written and fsynced before the
rejected records are acknowledged, so a rejected record is never silently gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from logship.core.durable import write_all
from logship.core.record import LogEntry, format_epoch


class DeadLetterFile:
    """Appends rejected records of one sink; raises OSError when it cannot (the caller retries)."""

    def __init__(self, folder: Path, sink_name: str, suffix: str = "") -> None:
        self.path = folder / f"{sink_name}{suffix}.jsonl"
        self.sink_name = sink_name
        self._lock = threading.Lock()

    def _line(self, now: str, entry: LogEntry, reason: str) -> bytes:
        doc = {"time": now, "sink": self.sink_name, "reason": reason, "record": entry}
        try:
            return orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            # A record JSON cannot hold (too deeply nested): keep its text form, never lose it.
            doc["record"] = repr(entry)
            return orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)

    def write(self, items: Sequence[tuple[LogEntry, str]]) -> None:
        """Appends `(record, reason)` pairs and fsyncs."""
        if not items:
            return
        now = format_epoch(time.time())
        data = b"".join(self._line(now, entry, reason) for entry, reason in items)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
