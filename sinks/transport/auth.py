"""Authentication settings of an HTTP sink (`auth:`) and the header they become."""

from __future__ import annotations

import base64

from pydantic import model_validator

from logship.core.schema import StrictModel


class AuthSettings(StrictModel):
    """Basic (`username` + `password`) or `bearer_token`; values usually come from `${ENV}`."""

    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None

    def methods(self) -> list[str]:
        """The authentication methods given (one at most once validated)."""
        given = [
            ("username/password", self.username is not None or self.password is not None),
            ("bearer_token", self.bearer_token is not None),
        ]
        return [name for name, present in given if present]

    def authorization(self) -> str | None:
        """The value of the Authorization header, None when no method is set."""
        if self.username is not None and self.password is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        if self.bearer_token is not None:
            return f"Bearer {self.bearer_token}"
        return None

    @model_validator(mode="after")
    def _one_method(self) -> AuthSettings:
        methods = self.methods()
        if len(methods) > 1:
            raise ValueError(f"choose one authentication method, got {' and '.join(methods)}")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together; set both or neither")
        for key, value in self:
            if value == "":
                raise ValueError(
                    f"{key} is empty; is the environment variable that should fill it set?"
                )
        return self


def auth_headers(auth: AuthSettings) -> dict[str, str]:
    """The Authorization header for the configured method (none when no auth is set)."""
    value = auth.authorization()
    return {} if value is None else {"Authorization": value}
