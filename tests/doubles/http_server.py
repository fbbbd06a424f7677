"""The killable HTTP server the fake endpoints are built on (Elasticsearch, webhooks).

It serves in a thread on 127.0.0.1, optionally over TLS. `stop()` (alias `down()`) closes the
listening socket and cuts every open connection, so clients see the endpoint as down (refused,
reset); `start()` (alias `up()`) listens again on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self


class TrackedServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections, so they can be cut."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remembers the connection, then serves it in its own thread."""
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forgets the connection once it is done."""
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """Shuts every open connection down: clients waiting for an answer see a reset."""
        with self.conn_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class KillableHttpServer:
    """A fake endpoint on 127.0.0.1 that tests can take down and bring up again.

    Subclasses build their server (`make_server`) with the state their handler reads.
    """

    thread_name = "http-server"

    def __init__(
        self, port: int = 0, *, certfile: Path | None = None, keyfile: Path | None = None
    ) -> None:
        self.port = port
        self._tls: ssl.SSLContext | None = None
        if certfile is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(certfile, keyfile)
        self._server: TrackedServer | None = None
        self._thread: threading.Thread | None = None

    def make_server(self, address: tuple[str, int]) -> TrackedServer:
        """The server to listen with (its handler class and the state it serves)."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """scheme://127.0.0.1:PORT."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Starts listening (on the same port as before after `down`)."""
        server = self.make_server(("127.0.0.1", self.port))
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=self.thread_name,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening and cuts every open connection: clients see the endpoint as down."""
        server = self._server
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.cut_connections()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None

    def down(self) -> None:
        """`stop`: the endpoint goes away (connection refused)."""
        self.stop()

    def up(self) -> Self:
        """`start`: the endpoint is back, on the same port."""
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
