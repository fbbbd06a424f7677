"""One HTTP request at a time over urllib3, configured from the sink's settings.

urllib3 never retries or follows redirects here: the sink worker owns retries and backoff, and a
redirect means the configured URL is not the endpoint (the answer says where to point it).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3

from logship import __version__
from logship.core.errors import LogshipError
from sinks.http.config import HttpAuthSettings, HttpSinkSettings

log = logging.getLogger(__name__)

MAX_BODY_SHOWN = 300
"""Characters of an error answer's body kept for the reason (logs, dead letters)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, the start of its body as text, and the headers a sink uses."""

    status: int
    body: str
    retry_after: str | None
    location: str | None


class Unreachable(LogshipError):
    """No HTTP answer: connection refused or reset, timeout, TLS failure. The message says which."""


def auth_headers(auth: HttpAuthSettings) -> dict[str, str]:
    """The Authorization header for the configured method (none when no auth is set)."""
    if auth.username is not None and auth.password is not None:
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if auth.bearer_token is not None:
        return {"Authorization": f"Bearer {auth.bearer_token}"}
    return {}


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
        self.timeout = urllib3.Timeout(
            connect=settings.request_timeout, read=settings.request_timeout
        )
        options: dict[str, Any] = {}
        if urlsplit(settings.url).scheme == "https":
            if tls.verify:
                options["cert_reqs"] = "CERT_REQUIRED"
                options["ca_certs"] = str(tls.ca_file) if tls.ca_file else certifi.where()
            else:
                options["cert_reqs"] = "CERT_NONE"
                options["assert_hostname"] = False
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                log.warning(
                    "TLS verification is off: the endpoint's identity is not checked.",
                    extra={"sink": settings.name, "endpoint": self.endpoint},
                )
            if tls.client_cert is not None and tls.client_key is not None:
                options["cert_file"] = str(tls.client_cert)
                options["key_file"] = str(tls.client_key)
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=1, retries=False, **options)

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """Sends one request with `body`; the answer, whatever its status."""
        try:
            response = self.pool.request(
                self.method,
                self.url,
                body=body,
                headers={**self.headers, **headers},
                timeout=self.timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(_describe(exc)) from None
        except OSError as exc:  # a TLS file that became unreadable, ...
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        text = response.data[:MAX_BODY_SHOWN].decode("utf-8", "replace") if response.data else ""
        return Answer(
            status=response.status,
            body=text,
            retry_after=response.headers.get("Retry-After"),
            location=response.headers.get("Location"),
        )

    def close(self) -> None:
        """Closes pooled connections."""
        self.pool.clear()


def _describe(exc: urllib3.exceptions.HTTPError) -> str:
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
