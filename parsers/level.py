"""Log levels normalised to the names Kibana users filter on: trace, debug, info, warn, error, fatal.

Names and abbreviations of every common logger are understood (`E`, `ERR`, `Error`, `SEVERE`,
`WARNING`, `W`, ...), and numbers: syslog severities 0-7 (`3` -> error) and the levels of
bunyan / pino JSON logs (`30` -> info, `50` -> error). A level nothing knows is kept, lower-cased.
"""

from __future__ import annotations

from collections.abc import Mapping

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")

_ALIASES = {
    "trace": "trace",
    "t": "trace",
    "trc": "trace",
    "finest": "trace",
    "finer": "trace",
    "verbose": "trace",
    **{f"trace{n}": "trace" for n in range(1, 9)},  # Apache httpd trace1 ... trace8
    "v": "trace",
    "debug": "debug",
    "d": "debug",
    "dbg": "debug",
    "fine": "debug",
    "config": "debug",
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
    "eror": "error",
    "severe": "error",
    "fatal": "fatal",
    "f": "fatal",
    "crit": "fatal",
    "critical": "fatal",
    "alert": "fatal",
    "emerg": "fatal",
    "emergency": "fatal",
    "panic": "fatal",
    # syslog severities (RFC 5424 section 6.2.1)
    "0": "fatal",
    "1": "fatal",
    "2": "fatal",
    "3": "error",
    "4": "warn",
    "5": "info",
    "6": "info",
    "7": "debug",
    # bunyan / pino
    "10": "trace",
    "20": "debug",
    "30": "info",
    "40": "warn",
    "50": "error",
    "60": "fatal",
}

SYSLOG_SEVERITY_NAMES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)
"""RFC 5424 severity names by code, for `log.syslog.severity.name`."""

_CACHE_LIMIT = 1024


def normalize_level(raw: object, mapping: Mapping[str, str] | None = None) -> str:
    """`ERR` -> `error`, `W` -> `warn`, `3` -> `error`, ...; an unknown level is kept, lower-cased.

    `mapping` (lower-cased keys) is consulted first: a rule's own level names.
    """
    lowered = str(raw).strip().lower()
    if mapping:
        mapped = mapping.get(lowered)
        if mapped is not None:
            return mapped
    return _ALIASES.get(lowered, lowered)


class LevelNormalizer(dict[object, str]):
    """A rule's level normaliser: `normalizer[raw]` is the normalised level, cached by raw value.

    A dict so the record builder can look up known values without a Python call; unknown values
    are computed by `__missing__` and remembered (at most 1024 of them).
    """

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.mapping = {str(k).strip().lower(): v for k, v in (mapping or {}).items()}

    def __missing__(self, raw: object) -> str:
        level = normalize_level(raw, self.mapping)
        if len(self) < _CACHE_LIMIT:
            try:
                self[raw] = level
            except TypeError:
                pass  # an unhashable JSON value: not cached
        return level
