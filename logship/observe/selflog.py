"""The agent's own logs: JSON lines on stderr, a sentence plus key/value fields.

    log.warning("Sink failing; retrying with backoff.", extra={"sink": "kafka", "reason": "..."})
    -> {"time": "...", "level": "warning", "logger": "logship.deliver.worker",
        "message": "Sink failing; retrying with backoff.", "sink": "kafka", "reason": "..."}

Fields whose key looks like a secret are masked, and so is every secret value of the config
wherever it appears in a line (an error message quoting a URL or a header, say): `configure`
takes them from the loaded config.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

import orjson

from logship.core.record import format_epoch
from logship.core.secrets import MASK, is_secret_key, redact

# Attributes every LogRecord has; anything else came from `extra=` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats records as one JSON object per line, with the given secret values masked."""

    def __init__(self, secrets: Iterable[str] = (), static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.static = dict(static or {})
        # Masked in the encoded line, so also as JSON escapes them (a quote, a backslash).
        self.secrets = frozenset(
            form for secret in secrets for form in (secret, orjson.dumps(secret).decode()[1:-1])
        )

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": format_epoch(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **self.static,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = MASK if is_secret_key(key) else value
        if record.exc_info:
            doc["error.stack_trace"] = self.formatException(record.exc_info)
        line = orjson.dumps(doc, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return redact(line, self.secrets) if self.secrets else line


def configure(
    level: str = "info", secrets: Iterable[str] = (), static: dict[str, Any] | None = None
) -> None:
    """Sends every `logship`, `parsers` and `sinks` logger to stderr as JSON lines at `level`.

    `secrets`: values never to print (`logship.core.secrets.secret_values` of the config).
    `static`: fields added to every line (a worker process's `worker` index).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets, static))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # third-party libraries: warnings and up
    for name in ("logship", "parsers", "sinks"):
        logging.getLogger(name).setLevel(level.upper())
