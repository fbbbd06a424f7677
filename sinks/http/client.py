"""One HTTP request at a time over urllib3, configured from the sink's settings.

urllib3 never retries or follows redirects here: the sink worker owns retries and backoff, and a
redirect means the configured URL is not the endpoint (the answer says where to point it).
urllib3 is imported, and the connection pool made, on the first request (on the sink worker's
thread): an agent whose alert webhook never fires does not pay for it at start-up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import certifi

from logship import __version__
from sinks.http.config import HttpSinkSettings
from sinks.transport.answer import Answer
from sinks.transport.auth import auth_headers
from sinks.transport.errors import Unreachable

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger(__name__)

MAX_BODY_SHOWN = 300
"""Characters of an error answer's body kept for the reason (logs, dead letters)."""


def endpoint(url: str) -> str:
    """scheme://host:port of a URL: what messages show (paths of webhook URLs hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class HttpClient:
    """Sends request bodies to the configured URL; raises `Unreachable` when no answer came."""

    def __init__(self, settings: HttpSinkSettings) -> None:
        self.url = settings.url
        self.method = settings.method
        self.endpoint = endpoint(settings.url)
        self.headers = {
            "User-Agent": f"logship/{__version__}",
            **auth_headers(settings.auth),
            **settings.headers,
        }
        tls = settings.tls
        self.request_timeout = settings.request_timeout
        self._quiet_insecure = False
        options: dict[str, Any] = {}
        if urlsplit(settings.url).scheme == "https":
            if tls.verify:
                options["cert_reqs"] = "CERT_REQUIRED"
                options["ca_certs"] = str(tls.ca_file) if tls.ca_file else certifi.where()
            else:
                options["cert_reqs"] = "CERT_NONE"
                options["assert_hostname"] = False
                self._quiet_insecure = True
                log.warning(
                    "TLS verification is off: the endpoint's identity is not checked.",
                    extra={"sink": settings.name, "endpoint": self.endpoint},
                )
            if tls.client_cert is not None and tls.client_key is not None:
                options["cert_file"] = str(tls.client_cert)
                options["key_file"] = str(tls.client_key)
        self._options = options
        self._pool: urllib3.PoolManager | None = None
        self._timeout: urllib3.Timeout | None = None

    def _connect(self) -> tuple[urllib3.PoolManager, urllib3.Timeout]:
        """The pool and timeout, made on the first request."""
        if self._pool is None or self._timeout is None:
            import urllib3

            if self._quiet_insecure:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._timeout = urllib3.Timeout(connect=self.request_timeout, read=self.request_timeout)
            self._pool = urllib3.PoolManager(num_pools=2, maxsize=1, retries=False, **self._options)
        return self._pool, self._timeout

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """Sends one request with `body`; the answer, whatever its status."""
        import urllib3

        pool, timeout = self._connect()
        try:
            response = pool.request(
                self.method,
                self.url,
                body=body,
                headers={**self.headers, **headers},
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(_describe(exc)) from None
        except OSError as exc:  # a TLS file that became unreadable, ...
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        text = response.data[:MAX_BODY_SHOWN].decode("utf-8", "replace") if response.data else ""
        return Answer(status=response.status, body=text, headers=response.headers)

    def close(self) -> None:
        """Closes pooled connections."""
        if self._pool is not None:
            self._pool.clear()


def _describe(exc: urllib3.exceptions.HTTPError) -> str:
    import urllib3

    reason = getattr(exc, "reason", None)
    cause = reason if isinstance(reason, BaseException) else exc
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "connection refused or host unreachable"
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return "request timed out"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return f"TLS error: {cause}"
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return "connection closed without an answer"
    return f"{type(cause).__name__}"
