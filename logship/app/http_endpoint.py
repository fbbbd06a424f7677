"""The agent's HTTP endpoint: /metrics, /healthz, /readyz, /status.

Served by the standard library (a threading HTTP server on a daemon thread) on
`agent.http.address`, 127.0.0.1:9600 by default: only local processes reach it unless the config
says otherwise (in a container, 0.0.0.0:9600 so that probes from outside the network namespace
get in). Every route is read-only and cheap; at most `MAX_CONCURRENT` requests are served at once,
further connections are closed, so a flood cannot pile up threads.

- `/metrics`: Prometheus text format (OpenMetrics when the scraper asks for it).
- `/healthz`: 200 while the agent is live (threads alive, none wedged), else 503.
- `/readyz`: 200 while every sink is reachable and making progress, else 503.
- `/status`: JSON with inputs, open files, offsets, lag and sink states.

Health answers are JSON: {"status": "ok" | "unhealthy" | "ready" | "not ready", "checks": [...]}.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from logship.state.data_dir import StartupError

if TYPE_CHECKING:
    from logship.app.config import HttpSettings

log = logging.getLogger(__name__)

MAX_CONCURRENT = 16
REQUEST_TIMEOUT = 5.0  # seconds a client may take to send its request


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR: a restarted agent can listen at once although connections of the previous
    # one linger in TIME-WAIT (the server closes each connection first). On Linux it does not
    # let a second listener share the port: a live agent's socket still makes bind fail.
    # Never SO_REUSEPORT, which would let two agents share it.
    allow_reuse_address = True
    allow_reuse_port = False

    def __init__(self, address: tuple[str, int], endpoint: HttpEndpoint) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.endpoint = endpoint
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        super().__init__(address, _Handler, bind_and_activate=False)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: drop the connection rather than queue a thread
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT
    server_version = "logship"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("HTTP request.", extra={"client": self.client_address[0], "line": format % args})

    def do_GET(self) -> None:
        route = self.path.split("?", 1)[0]
        handler = self.server.endpoint.routes.get(route)
        if handler is None:
            self._send(404, b'{"error": "not found; try /metrics, /healthz, /readyz, /status"}\n')
            return
        try:
            status, content_type, body = handler(self.headers.get("Accept", ""))
        except Exception:
            log.exception("HTTP endpoint failed to answer.", extra={"route": route})
            self._send(500, b'{"error": "internal error; see the agent log"}\n')
            return
        self._send(status, body, content_type)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


Answer = tuple[int, str, bytes]


Routes = dict[str, Callable[[str], Answer]]
"""Path -> function of the Accept header returning (status, content type, body)."""


class HttpEndpoint:
    """Binds at `bind` (so a busy port fails start-up), serves after `start`, stops on `stop`."""

    def __init__(self, routes: Routes, host: str, port: int) -> None:
        self.requested = (host, port)
        self.started = time.time()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes = routes

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the real port when 0 was asked for)."""
        if self._server is None:
            return self.requested
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def bind(self) -> None:
        """Opens the listening socket; OSError when the address is taken or not local."""
        server = _Server(self.requested, self)
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        self._server = server

    def fds(self) -> list[int]:
        """The listening socket's file descriptor, once bound (a forked child closes it)."""
        return [] if self._server is None else [self._server.fileno()]

    def start(self) -> None:
        """Serves requests on a daemon thread."""
        if self._server is None:
            self.bind()
        assert self._server is not None
        self.started = time.time()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="http",
            daemon=True,
        )
        self._thread.start()
        host, port = self.address
        log.info(
            "HTTP endpoint listening.",
            extra={"address": f"[{host}]:{port}" if ":" in host else f"{host}:{port}"},
        )

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        server = self._server
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(timeout=5)
        server.server_close()
        self._server = None


def bind_or_disable(http: HttpEndpoint, settings: HttpSettings) -> HttpEndpoint | None:
    """Binds the endpoint. A configured address that is taken stops the start (StartupError); the
    default address being taken (another agent on this host) only turns the endpoint off, loudly:
    the endpoint observes the shipping, it must not stop it."""
    try:
        http.bind()
    except OSError as exc:
        fatal, problem = listen_problem(settings, exc)
        if fatal:
            raise StartupError(problem) from None
        log.warning(
            "HTTP endpoint off: the default address is taken; set agent.http.address to "
            "choose another (or null to silence this).",
            extra={"address": settings.address, "error": exc.strerror or str(exc)},
        )
        return None
    return http


def listen_problem(settings: HttpSettings, exc: OSError) -> tuple[bool, str]:
    """What a failed bind means: (True, message) stops the start (a configured address), (False,
    message) only turns the endpoint off (the default address). `run` and `check` both use it."""
    problem = f"cannot listen on {settings.address}: {exc.strerror or exc}"
    if exc.errno == errno.EADDRINUSE:
        problem += " (another process listens there)"
    if "address" in settings.model_fields_set:
        return True, (
            f"agent.http.address: {problem}; choose a free port, or null to turn the endpoint off"
        )
    return False, (
        f"agent.http.address: {problem}; the endpoint will be off (the default address is "
        f"taken); set agent.http.address to choose another, or null"
    )
