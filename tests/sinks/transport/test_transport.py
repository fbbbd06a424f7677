"""The shared HTTP layer: answers, auth headers, TLS settings and the retry-logic runner."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sinks.elasticsearch.config import ElasticsearchAuthSettings, ElasticsearchTlsSettings
from sinks.transport.answer import Answer
from sinks.transport.auth import AuthSettings, auth_headers
from sinks.transport.errors import Unreachable
from sinks.transport.retry import attempt


def test_an_answer_finds_its_headers_whatever_their_case() -> None:
    answer = Answer(429, "slow down", {"Retry-After": "7", "LOCATION": "https://x/"})
    assert answer.retry_after == 7.0
    assert answer.location == "https://x/"
    assert answer.header("x-missing") is None
    assert Answer(200).retry_after is None


def test_basic_and_bearer_auth_become_one_authorization_header() -> None:
    basic = AuthSettings(username="agent", password="s3cret")
    assert auth_headers(basic) == {"Authorization": "Basic YWdlbnQ6czNjcmV0"}
    assert auth_headers(AuthSettings(bearer_token="t0k3n")) == {"Authorization": "Bearer t0k3n"}
    assert auth_headers(AuthSettings()) == {}
    api_key = ElasticsearchAuthSettings(api_key="a2V5")
    assert auth_headers(api_key) == {"Authorization": "ApiKey a2V5"}


def test_only_elasticsearch_auth_takes_an_api_key_and_one_method_at_most() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AuthSettings.model_validate({"api_key": "a2V5"})
    with pytest.raises(ValidationError, match="got api_key and bearer_token"):
        ElasticsearchAuthSettings(api_key="a2V5", bearer_token="t")
    with pytest.raises(ValidationError, match="bearer_token is empty"):
        AuthSettings(bearer_token="")


def test_only_elasticsearch_tls_takes_a_ca_fingerprint() -> None:
    assert ElasticsearchTlsSettings(ca_fingerprint="AB:CD").ca_fingerprint == "AB:CD"
    with pytest.raises(ValidationError, match="readable file"):
        ElasticsearchTlsSettings.model_validate({"ca_file": "/nonexistent/ca.pem"})


class _Logic:
    def answered(self, answer: Answer) -> str:
        return f"answered {answer.status}"

    def unanswered(self, error: str) -> str:
        return f"unanswered: {error}"


def test_attempt_hands_an_answer_or_its_absence_to_the_sinks_retry_logic() -> None:
    assert attempt(lambda: Answer(503), _Logic()) == "answered 503"

    def refused() -> Answer:
        raise Unreachable("connection refused")

    assert attempt(refused, _Logic()) == "unanswered: connection refused"
