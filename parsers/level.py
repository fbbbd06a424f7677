"""Log levels normalised to the names Kibana users filter on: trace, debug, info, warn, error, fatal."""

from __future__ import annotations

_ALIASES = {
    "trace": "trace",
    "t": "trace",
    "finest": "trace",
    "finer": "trace",
    "debug": "debug",
    "d": "debug",
    "dbg": "debug",
    "fine": "debug",
    "info": "info",
    "i": "info",
    "inf": "info",
    "information": "info",
    "informational": "info",
    "notice": "info",
    "n": "info",
    "warn": "warn",
    "w": "warn",
    "wrn": "warn",
    "warning": "warn",
    "error": "error",
    "e": "error",
    "err": "error",
    "severe": "error",
    "fatal": "fatal",
    "f": "fatal",
    "crit": "fatal",
    "critical": "fatal",
    "alert": "fatal",
    "emerg": "fatal",
    "emergency": "fatal",
    "panic": "fatal",
}


def normalize_level(raw: str) -> str:
    """`ERR` -> `error`, `W` -> `warn`, ...; an unknown level is kept, lower-cased."""
    lowered = raw.strip().lower()
    return _ALIASES.get(lowered, lowered)
