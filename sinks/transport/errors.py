"""The one error an HTTP client raises: no answer came."""

from __future__ import annotations

from logship.core.errors import LogshipError


class Unreachable(LogshipError):
    """No HTTP answer: connection refused or reset, timeout, TLS failure. The message says which."""
