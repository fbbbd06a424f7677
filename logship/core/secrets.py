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


_MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words everywhere


def secret_values(value: Any) -> set[str]:
    """The values held under secret keys in a config tree (for masking them in free text)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= _leaves(v) if is_secret_key(str(k)) else secret_values(v)
    elif isinstance(value, list):
        for v in value:
            found |= secret_values(v)
    return found


def _leaves(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_leaves(v) for v in value))
    if isinstance(value, str) and len(value) >= _MIN_SECRET_CHARS:
        return {value}
    return set()


def redact(text: str, secrets: set[str] | frozenset[str]) -> str:
    """`text` with every occurrence of a secret value replaced by `***` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_tree(value: Any, secrets: set[str] | frozenset[str]) -> Any:
    """A copy of a JSON-like tree with every secret value masked inside its strings."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_tree(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, secrets) for v in value]
    return value
