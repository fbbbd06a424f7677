"""Settings of the `http` sink (`type: http`), checked when the config loads."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from logship.core.sink import SinkSettings
from logship.core.units import Duration
from sinks.transport.auth import AuthSettings
from sinks.transport.tls import TlsSettings

_URL = re.compile(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = {"content-length", "content-encoding", "host", "transfer-encoding"}

Encoding = Literal["json_array", "ndjson", "json"]
"""json_array: one JSON array per request; ndjson: one JSON document per line; json: one record
per request (for receivers that take a single object)."""


class HttpSinkSettings(SinkSettings):
    """`type: http`: records POSTed as JSON to `url`."""

    type: Literal["http"]
    url: str = Field(
        json_schema_extra={"expected": "a URL like https://collector.example:8080/ingest"}
    )
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of header name to value"},
    )
    """Extra request headers (`X-Api-Key: ${API_KEY}`); Content-Type is set by `encoding`."""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    encoding: Encoding = "json_array"
    compression: Literal["none", "gzip"] = "none"
    request_timeout: Duration = Field(10.0, gt=0)
    """A request without a complete answer by then is retried."""

    @field_validator("url")
    @classmethod
    def _is_url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(
                f"expected an http:// or https:// URL like https://collector.example:8080/ingest "
                f"(got {value!r})"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name!r} is set by the sink; remove it")
            if "\n" in text or "\r" in text:
                raise ValueError(f"the value of {name!r} contains a line break")
        return value
