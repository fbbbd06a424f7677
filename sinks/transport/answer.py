"""`Answer`: what an HTTP endpoint answered, whichever client carried the request."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: its status, its body as the client decoded it, and its headers.

    `body` is what the sink asked its client for: decoded JSON, text, the raw bytes, or None
    when empty. `headers` keeps the client's (case-insensitive) mapping; `header` also finds a
    name in a plain dict whatever its case.
    """

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The value of header `name` (any case), None when absent."""
        value = self.headers.get(name)
        if value is not None:
            return value
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def retry_after(self) -> float | None:
        """Seconds the endpoint asked us to wait (its Retry-After header), None without one."""
        return parse_retry_after(self.header("retry-after"))

    @property
    def location(self) -> str | None:
        """Where a redirect points (the Location header), None without one."""
        return self.header("location")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
