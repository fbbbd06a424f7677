"""A local stand-in for a webhook (Slack, Alertmanager, any HTTP receiver), for tests.

It listens on 127.0.0.1, records every request (method, path, headers, body, parsed JSON) and
answers 200 by default. Tests inject failures:

- `script`: one-shot replies for the next requests, in order (`Reply(500)`,
  `Reply(429, {"Retry-After": "1"})`, `Reply(400, body=...)`); when empty, `default` answers;
- `delay`: seconds to wait before answering (a slow webhook); `stop()` wakes waiting handlers;
- `down()` / `up()`: stop listening and cut open connections (connection refused), then listen
  again on the same port.

Requests that got a non-2xx answer are recorded too, with the status they got (`Received.status`),
so a test can tell attempts from deliveries (`delivered()`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self

import orjson

from tests.doubles.http_server import KillableHttpServer, TrackedServer


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to give: status, headers, body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass(slots=True)
class Received:
    """One request as the server saw it, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    time: float

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None


class _Server(TrackedServer):
    def __init__(self, address: tuple[str, int], hook: WebhookServer) -> None:
        self.hook = hook
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        hook = self.server.hook
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if hook.delay > 0 and hook.stopping.wait(hook.delay):
            return
        reply = hook.next_reply()
        with hook.lock:
            hook.requests.append(
                Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    reply.status,
                    time.monotonic(),
                )
            )
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class WebhookServer(KillableHttpServer):
    """The fake webhook on 127.0.0.1; `url` to configure, `requests` to inspect."""

    thread_name = "webhook-server"

    def __init__(
        self, path: str = "/hook", *, certfile: Path | None = None, keyfile: Path | None = None
    ) -> None:
        super().__init__(certfile=certfile, keyfile=keyfile)
        self.path = path
        self.requests: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.delay = 0.0
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def make_server(self, address: tuple[str, int]) -> TrackedServer:
        """A server whose handler records requests and answers as scripted."""
        return _Server(address, self)

    @property
    def url(self) -> str:
        """The webhook URL, e.g. http://127.0.0.1:PORT/hook."""
        return f"{self.base_url}{self.path}"

    def next_reply(self) -> Reply:
        """The scripted reply for this request, else the default."""
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def delivered(self) -> list[Received]:
        """Requests answered with a 2xx status."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def bodies(self) -> list[Any]:
        """The JSON bodies of delivered requests, in order."""
        return [r.json for r in self.delivered()]

    def attempts(self) -> int:
        """Every request answered so far, whatever its status."""
        with self.lock:
            return len(self.requests)

    def start(self) -> Self:
        """Starts listening (on the same port as before after `down`)."""
        self.stopping.clear()
        return super().start()

    def stop(self) -> None:
        """Wakes handlers waiting out a `delay`, then stops like every fake endpoint."""
        if self._server is not None:
            self.stopping.set()
        super().stop()
