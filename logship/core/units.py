"""Durations and byte sizes as people write them in config (`30s`, `500ms`, `4MiB`)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|k|m|g)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    None: 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string like `250ms`, `30s`, `5m`, `1h`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 500ms or 5m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("expected a duration >= 0")
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    raise ValueError(f"expected a duration like 30s, 500ms or 5m, got {value!r}")


def parse_milliseconds(value: object) -> float:
    """Milliseconds from a plain number (milliseconds) or a duration string like `200ms`, `1s`."""
    if isinstance(value, str):
        return parse_duration(value) * 1000.0
    return parse_duration(value)


def parse_size(value: object) -> int:
    """Bytes from an integer or a string like `512KiB`, `4MiB`, `1GB`."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 512KiB or 4MiB")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("expected a size >= 0")
        return value
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m:
            unit = m.group(2).lower() if m.group(2) else None
            return int(float(m.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"expected a size like 512KiB or 4MiB, got {value!r}")


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds; config accepts `30s`, `500ms`, `5m`, `1h`, `1d` or a plain number of seconds."""

Milliseconds = Annotated[float, BeforeValidator(parse_milliseconds)]
"""A duration in milliseconds, for keys named `*_ms`: a plain number is milliseconds (as the key
says), a string is any duration (`200ms`, `1s`). Dumped as milliseconds, so it reads back the same."""

ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""Bytes; config accepts `512KiB`, `4MiB`, `1GB` or a plain number of bytes."""
