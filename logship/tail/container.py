"""Container logs: unwrap the runtime's line format, and Kubernetes metadata from the file name.

- CRI (containerd, CRI-O): `<time> <stream> <P|F> <message>`; `P` marks a partial line that the
  next lines continue until one marked `F`.
- docker json-file: `{"log": "...\\n", "stream": "stdout", "time": "..."}`; a `log` without a
  trailing newline is a partial line (docker splits lines at 16 KiB).
- `auto` tells them apart per line; a line in neither format passes through unchanged.

The unwrapped message goes through the input's parser chain; the runtime's timestamp becomes
`@timestamp` unless a rule parses one from the message, and `log.stream` says stdout or stderr.
Offsets stay exact: a joined line starts where its first part starts, and while a partial line
waits for its end the ack end stays at its start.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

import orjson

from logship.core.lines import Lines
from logship.core.record import format_iso

ContainerFormat = Literal["cri", "docker", "auto"]

_CRI = re.compile(r"^(\S+) (stdout|stderr) ([PF])(?::\S*)? ?(.*)$", re.DOTALL)
_FAST_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# /var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log
_CONTAINERS_NAME = re.compile(
    r"(?:^|/)(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)-(?P<id>[0-9a-f]{64})\.log$"
)
# /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart count>.log
_PODS_PATH = re.compile(
    r"(?:^|/)(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[0-9a-f-]{36})/(?P<container>[^/]+)/\d+\.log$"
)


def runtime_time(text: str) -> str:
    """The runtime's RFC 3339 (nanosecond) time as `@timestamp` text; '' when it does not parse."""
    if _FAST_UTC.match(text):
        fraction = text[20:-1] if len(text) > 20 else ""
        return f"{text[:19]}.{(fraction + '000')[:3]}Z"
    try:
        head, dot, rest = text.partition(".")
        if dot:  # fromisoformat takes at most 6 fraction digits
            digits = len(rest) - len(rest.lstrip("0123456789"))
            rest = rest[: min(digits, 6)] + rest[digits:]
        return format_iso(dt.datetime.fromisoformat(head + dot + rest))
    except ValueError:
        return ""


def kubernetes_fields(path: str) -> dict[str, Any] | None:
    """Kubernetes metadata from a container log's path, or None when the path has neither layout."""
    m = _CONTAINERS_NAME.search(path)
    if m:
        return {
            "kubernetes": {
                "pod": {"name": m["pod"]},
                "namespace": m["namespace"],
                "container": {"name": m["container"]},
            },
            "container": {"id": m["id"]},
        }
    m = _PODS_PATH.search(path)
    if m:
        return {
            "kubernetes": {
                "pod": {"name": m["pod"], "uid": m["uid"]},
                "namespace": m["namespace"],
                "container": {"name": m["container"]},
            }
        }
    return None


def _decoded(text: str) -> str:
    """Text framed with surrogateescape (invalid bytes kept as surrogates) decoded for good:
    the bytes of parts joined here decode as the line the container wrote; what stays invalid
    becomes U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class ContainerDecoder:
    """Unwraps one file's container log lines; joins partial lines. One decoder per open file."""

    def __init__(self, fmt: ContainerFormat, max_line_bytes: int) -> None:
        self.format = fmt
        self.max_line_bytes = max_line_bytes
        self._parts: list[str] = []
        self._size = 0
        self._start = 0
        self._end = 0  # offset after the last part held
        self._time = ""
        self._stream = ""
        self._truncated = False

    @property
    def pending(self) -> bool:
        """True while a partial line waits for its end."""
        return bool(self._parts)

    def feed(self, lines: Lines) -> Lines:
        """The unwrapped lines; partial lines are held until their final part arrives."""
        out = Lines(times=[], streams=[], truncated_bytes=lines.truncated_bytes)
        ends = [*lines.starts[1:], lines.end]
        truncated = set(lines.truncated)
        fmt = self.format
        for i, raw in enumerate(lines.texts):
            parsed = None
            if fmt != "docker" and raw[:1] != "{":
                parsed = self._cri(raw)
            if parsed is None and fmt != "cri" and raw[:1] == "{":
                parsed = self._docker(raw)
            if parsed is None:  # not in a container format: pass it through as it is
                self._emit_pending(out)
                self._add(out, _decoded(raw), lines.starts[i], "", "", i in truncated)
                continue
            message, stream, time, partial = parsed
            if not self._parts:
                self._start, self._time, self._stream = lines.starts[i], time, stream
            self._parts.append(message)
            self._size += len(message)
            self._end = ends[i]
            if i in truncated or self._size > self.max_line_bytes:
                self._truncated = True
            if not partial:
                self._emit_pending(out)
            elif self._size > self.max_line_bytes:
                self._emit_pending(out)  # never hold more than max_line_bytes of parts
        out.end = self._start if self._parts else lines.end
        return out

    def flush(self) -> Lines:
        """Emits a partial line whose end never came (the file stopped growing)."""
        out = Lines(times=[], streams=[])
        out.end = self._end if self._parts else self._start
        self._emit_pending(out)
        return out

    def _cri(self, raw: str) -> tuple[str, str, str, bool] | None:
        m = _CRI.match(raw)
        if m is None:
            return None
        time = runtime_time(m[1])
        if not time:
            return None
        return m[4], m[2], time, m[3] == "P"

    def _docker(self, raw: str) -> tuple[str, str, str, bool] | None:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("log"), str):
            return None
        message: str = doc["log"]
        partial = not message.endswith("\n")
        if not partial:
            message = message[:-1]
            if message.endswith("\r"):
                message = message[:-1]
        stream = doc.get("stream") if isinstance(doc.get("stream"), str) else ""
        time = runtime_time(doc["time"]) if isinstance(doc.get("time"), str) else ""
        return message, str(stream), time, partial

    def _emit_pending(self, out: Lines) -> None:
        if not self._parts:
            return
        text = _decoded(self._parts[0] if len(self._parts) == 1 else "".join(self._parts))
        if self._truncated and len(text) > self.max_line_bytes:
            cut = text[: self.max_line_bytes]
            out.truncated_bytes += len(text.encode()) - len(cut.encode())
            text = cut
        self._add(out, text, self._start, self._time, self._stream, self._truncated)
        self._parts = []
        self._size = 0
        self._truncated = False

    @staticmethod
    def _add(out: Lines, text: str, start: int, time: str, stream: str, truncated: bool) -> None:
        if truncated:
            out.truncated.append(len(out.texts))
        out.texts.append(text)
        out.starts.append(start)
        assert out.times is not None
        assert out.streams is not None
        out.times.append(time)
        out.streams.append(stream)
