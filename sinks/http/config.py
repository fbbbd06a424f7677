"""Settings of the `http` sink (`type: http`), checked when the config loads."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from logship.core.schema import ConfigPath, StrictModel
from logship.core.sink import SinkSettings
from logship.core.units import Duration

_URL = re.compile(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = {"content-length", "content-encoding", "host", "transfer-encoding"}

Encoding = Literal["json_array", "ndjson", "json"]
"""json_array: one JSON array per request; ndjson: one JSON document per line; json: one record
per request (for receivers that take a single object)."""


class HttpAuthSettings(StrictModel):
    """Basic (`username` + `password`) or `bearer_token`; values usually come from `${ENV}`."""

    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None

    @model_validator(mode="after")
    def _one_method(self) -> HttpAuthSettings:
        basic = self.username is not None or self.password is not None
        if basic and self.bearer_token is not None:
            raise ValueError("choose one authentication method: username/password or bearer_token")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together; set both or neither")
        for key in ("username", "password", "bearer_token"):
            if getattr(self, key) == "":
                raise ValueError(
                    f"{key} is empty; is the environment variable that should fill it set?"
                )
        return self


class HttpTlsSettings(StrictModel):
    """How an https endpoint's certificate is verified, and an optional client certificate."""

    ca_file: ConfigPath | None = None
    """PEM file of the CA that signed the server's certificate (else the system / certifi CAs)."""
    verify: bool = True
    """false: encrypted but unauthenticated; logged as a warning at start."""
    client_cert: ConfigPath | None = None
    client_key: ConfigPath | None = None

    @model_validator(mode="after")
    def _consistent(self) -> HttpTlsSettings:
        for key in ("ca_file", "client_cert", "client_key"):
            path = getattr(self, key)
            if path is not None and not path.is_file():
                raise ValueError(f"{key}: {path} is not a readable file")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        return self


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
    auth: HttpAuthSettings = Field(default_factory=HttpAuthSettings)
    tls: HttpTlsSettings = Field(default_factory=HttpTlsSettings)
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
