"""The one error an HTTP client raises: no answer came."""

from __future__ import annotations


class Unreachable(Exception):
    """No HTTP answer: connection refused or reset, timeout, TLS failure. The message says which."""
