"""`logship alerts`: which alert rules would fire on a log file, and when.

The input's parser chain turns the file into records, as the agent would; the alert engine runs
on them with the records' own `@timestamp` as its clock (a record without one takes the time of
the record before it), so yesterday's log replays at its own pace in a second. Resolves that
would follow once the log goes quiet are shown too, marked as after its end. Nothing is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from logship.core.record import LogEntry, format_epoch
from logship.observe.alerts.engine import AlertEngine
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.settings import AlertRuleSettings
from logship.tail.settings import InputSettings
from logship.tail.stages import LineStages, file_fields
from parsers.chain import ParserChain

_CHUNK = 1 << 20
_NO_TIME = "0001-01-01T00:00:00.000Z"
"""The read time given to the parser: a record still holding it had no timestamp of its own."""


@dataclass
class Preview:
    """The notifications in time order, the end of the log, and the engine's counters."""

    notifications: list[Notification] = field(default_factory=list)
    last_time: float = float("-inf")
    events: int = 0
    """Events replayed (a multiline event counts once)."""
    counters: list[dict[str, Any]] = field(default_factory=list)

    def after_end(self, notification: Notification) -> bool:
        """True for a notification that would only come once the log stayed quiet."""
        return notification.at > self.last_time


def run_preview(
    rules: list[AlertRuleSettings],
    inp: InputSettings,
    chain: ParserChain,
    stream: IO[bytes],
    path: str,
    host_name: str,
) -> Preview:
    """Replays the stream through the chain and the rules (no state, nothing sent)."""
    result = Preview()
    engine = AlertEngine(rules, result.notifications.append, host_name, event_clock=True)
    st = os.fstat(stream.fileno())
    file_info = {"path": path, "device_id": str(st.st_dev), "inode": str(st.st_ino)}
    # The agent's own stages (container, multiline): alerts see the events `run` would see.
    stages = LineStages(0, inp)
    fields = file_fields(inp, path)
    last_stamp = _NO_TIME

    def run(entries: list[LogEntry]) -> None:
        nonlocal last_stamp
        for entry in entries:
            if entry.get("@timestamp") == _NO_TIME:
                entry["@timestamp"] = last_stamp
            else:
                last_stamp = entry.get("@timestamp", last_stamp)
        engine.observe(inp.name, entries)
        engine.advance(last_stamp)
        engine.tick()

    for lines in _chunks(stream, stages):
        if lines.texts:
            result.events += len(lines.texts)
            entries, _ = chain.parse(lines, file_info, _NO_TIME, fields)
            run(entries)
    result.last_time = engine.watermark
    engine.tick(float("inf"))
    result.notifications.sort(key=lambda n: n.at)
    result.counters = engine.counters()
    return result


def _chunks(stream: IO[bytes], stages: LineStages) -> Iterable[Any]:
    while chunk := stream.read(_CHUNK):
        yield stages.feed(chunk)
    yield stages.drain()


def render_line(notification: Notification, after_end: bool) -> str:
    """One line of the timeline: time, status, rule, severity, group, message."""
    group = " ".join(f"{k}={v}" for k, v in notification.group) or "-"
    note = "  (after the end of the log, if it stays quiet)" if after_end else ""
    return (
        f"{format_epoch(notification.at)}  {notification.status.upper():<8}  {notification.rule}"
        f"  {notification.severity}  {group}  {notification.message}{note}"
    )
