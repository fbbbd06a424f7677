"""Secrets in config: which keys hold them, and masking them wherever config is shown or logged."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_.-]?key|credentials?|authorization|private[_.-]?key"
    r"|key\.pem|keystore|cloud_auth)",
    re.IGNORECASE,
)
MASK = "***"


def is_secret_key(key: str) -> bool:
    """True for keys like `password`, `sasl.password`, `api_key`, `bearer_token`."""
    return bool(_SECRET_KEY.search(key))


def mask_secrets(value: Any) -> Any:
    """A copy of a config tree (dicts / lists / scalars) with secret values replaced by `***`."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_key(str(k)) and v not in (None, "") else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value
