"""ClientLog: librdkafka's log lines and client errors in the agent's JSON log, without floods.

While a broker is down librdkafka reports every reconnect attempt, both as a log line and as
an error callback, many times a second. The agent logs each kind of event at most once per
`interval`, with the number of repeats it left out.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError

from sinks.kafka.classify import explain

log = logging.getLogger("sinks.kafka.librdkafka")

_DUPLICATED = frozenset({"FAIL"})
"""Facilities whose lines repeat what the error callback reports (connection failures)."""


class ClientLog:
    """A librdkafka `logger` (it has the `log(level, fmt, *args)` librdkafka calls) and an error sink."""

    def __init__(self, sink_name: str, interval: float = 30.0) -> None:
        self.sink_name = sink_name
        self.interval = interval
        self._last: dict[object, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _due(self, kind: object) -> int | None:
        """None when `kind` was logged within the interval (counted); else the repeats left out."""
        now = time.monotonic()
        with self._lock:
            last, skipped = self._last.get(kind, (-self.interval, 0))
            if now - last < self.interval:
                self._last[kind] = (last, skipped + 1)
                return None
            self._last[kind] = (now, 0)
            return skipped

    def log(self, level: int, fmt: str, *args: Any) -> None:
        """Called by librdkafka with `"%s [%s] %s", facility, client name, text`."""
        facility = str(args[0]) if args else ""
        if facility in _DUPLICATED:
            return
        skipped = self._due(("log", facility))
        if skipped is None:
            return
        text = str(args[-1]) if args else fmt
        extra: dict[str, Any] = {"sink": self.sink_name, "facility": facility}
        if skipped:
            extra["repeats_not_logged"] = skipped
        log.log(level, f"librdkafka: {text}", extra=extra)

    def error(self, error: KafkaError) -> None:
        """A client-level error (broker down, authentication failed...): librdkafka keeps retrying."""
        skipped = self._due(("error", error.code()))
        if skipped is None:
            return
        extra: dict[str, Any] = {"sink": self.sink_name, "error": explain(error)}
        if skipped:
            extra["repeats_not_logged"] = skipped
        if error.fatal():
            log.error("Kafka producer failed fatally; it will be replaced.", extra=extra)
        else:
            log.warning("Kafka client error; librdkafka keeps retrying.", extra=extra)
