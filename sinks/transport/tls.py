"""TLS settings of an HTTP sink (`tls:`): how the server's certificate is verified."""

from __future__ import annotations

from pydantic import model_validator

from logship.core.schema import ConfigPath, StrictModel


class TlsSettings(StrictModel):
    """How an https endpoint's certificate is verified, and an optional client certificate."""

    ca_file: ConfigPath | None = None
    """PEM file of the CA that signed the server's certificate (else the system / certifi CAs)."""
    verify: bool = True
    """false: encrypted but unauthenticated (anyone in the middle can read the logs); logged as a warning."""
    client_cert: ConfigPath | None = None
    client_key: ConfigPath | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TlsSettings:
        for key in ("ca_file", "client_cert", "client_key"):
            path = getattr(self, key)
            if path is not None and not path.is_file():
                raise ValueError(f"{key}: {path} is not a readable file")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        return self
