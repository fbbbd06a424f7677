"""Timestamps: from the text a log line carries to `@timestamp` (UTC, ISO 8601, milliseconds).

strptime costs microseconds per call, but timestamps repeat (many lines per second), so parsed
values are cached by their text; the cache is bounded and simply cleared when it fills.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logship.record import format_epoch, format_iso

UTC = dt.UTC
_CACHE_LIMIT = 4096

SPECIAL_FORMATS = ("ISO8601", "RFC3339", "UNIX", "UNIX_MS", "UNIX_US", "UNIX_NS")
"""Format names understood besides strptime patterns."""

_EPOCH_DIVISORS = {"UNIX": 1, "UNIX_MS": 1_000, "UNIX_US": 1_000_000, "UNIX_NS": 1_000_000_000}


def load_zone(name: str) -> dt.tzinfo:
    """A time zone by IANA name (`Europe/Berlin`) or `UTC` / `local`; ValueError if unknown."""
    if name.upper() == "UTC":
        return UTC
    if name == "local":
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from exc


class TimestampParser:
    """Parses timestamp text with the first of several formats that fits; caches results.

    Formats are strptime patterns or one of `SPECIAL_FORMATS`. A time without an offset is read in
    `zone`. Returns None when no format fits (the caller keeps the raw value and tags the record).
    """

    def __init__(self, formats: list[str], zone: dt.tzinfo = UTC) -> None:
        self.formats = formats
        self.zone = zone
        self._cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> str | None:
        cache = self._cache
        hit = cache.get(text, cache)
        if hit is not cache:
            return hit  # type: ignore[return-value]
        value = self._parse(text)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def _parse(self, text: str) -> str | None:
        for fmt in self.formats:
            try:
                if fmt in _EPOCH_DIVISORS:
                    seconds = float(text) / _EPOCH_DIVISORS[fmt]
                    return format_epoch(seconds)
                if fmt in ("ISO8601", "RFC3339"):
                    moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
                else:
                    moment = dt.datetime.strptime(text, fmt)
            except (ValueError, OverflowError):
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone)
            return format_iso(moment)
        return None


def validate_format(fmt: str) -> None:
    """Raises ValueError when a strptime pattern cannot work (it must contain a directive)."""
    if fmt in SPECIAL_FORMATS:
        return
    if "%" not in fmt:
        raise ValueError(
            f"{fmt!r} is not a strptime format (like '%d/%b/%Y:%H:%M:%S %z') "
            f"nor one of {', '.join(SPECIAL_FORMATS)}"
        )
