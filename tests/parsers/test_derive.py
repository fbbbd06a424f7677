"""Derivations (`derive:` in a rule) and the forwarded-for client choice behind `forwarded_for`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from logship.app.config_file import ConfigError, parse_config
from parsers.compiler import compile_rule
from parsers.config import RuleSettings
from parsers.forwarded import choose_client, is_private_ipv4, split_addresses
from parsers.regex_rule import RegexRule
from parsers.rule import RuleError
from parsers.section import ParsersSettings
from tests.parsers.test_config import REPO, config_text

CLOCK = dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "addresses"),
    [
        ("10.0.0.2, 10.0.0.1, 127.0.0.1", ["10.0.0.2", "10.0.0.1", "127.0.0.1"]),
        (
            '"10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185',
            ["10.5.102.222", "199.96.1.1", "204.246.1.1", "10.2.1.185"],
        ),
        ("2a03::1, 10.225.192.17 10.2.2.121", ["2a03::1", "10.225.192.17", "10.2.2.121"]),
        ('"localhost, localhost"', ["localhost", "localhost"]),
    ],
)
def test_an_address_list_splits_on_commas_spaces_and_quotes(
    text: str, addresses: list[str]
) -> None:
    assert split_addresses(text) == addresses


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("10.1.2.3", True),
        ("127.0.0.1", True),
        ("192.168.0.1", True),
        ("172.16.0.1", True),
        ("172.31.255.1", True),
        ("172.32.0.1", False),
        ("192.169.0.1", False),
        ("199.96.1.1", False),
        ("2a02:cf40::1", False),  # not IPv4: public, as in Filebeat's script
        ("localhost", False),
        ("unix:", False),
    ],
)
def test_private_means_what_filebeats_nginx_pipeline_calls_private(
    address: str, private: bool
) -> None:
    assert is_private_ipv4(address) is private


def test_the_client_is_the_first_public_address_else_the_first() -> None:
    assert choose_client(["10.0.0.2", "199.96.1.1", "204.246.1.1"]) == "199.96.1.1"
    assert choose_client(["10.0.0.2", "10.0.0.1", "127.0.0.1"]) == "10.0.0.2"
    assert choose_client(["localhost", "10.0.0.1"]) == "localhost"
    assert choose_client([]) is None


def _rule(**settings: Any) -> RegexRule:
    section = ParsersSettings()
    rule = compile_rule(RuleSettings(name="t", **settings), section.library, "UTC", lambda: CLOCK)
    assert isinstance(rule, RegexRule)
    return rule


def test_a_derivation_sets_fields_on_both_the_generated_and_the_generic_path() -> None:
    rule = _rule(
        regex=r"^(?:(?P<fwd>\S+, .+)|(?P<source.ip>\S+)) (?P<message>.*)$",
        derive={"fwd": "forwarded_for"},
        copy={"source.ip": "source.address"},
    )
    line = "10.0.0.1, 198.51.100.2, 10.0.0.9 hello"
    want = {
        "fwd": ["10.0.0.1", "198.51.100.2", "10.0.0.9"],
        "source": {"address": "198.51.100.2", "ip": "198.51.100.2"},
        "message": "hello",
    }
    assert rule.parse(line) == want
    assert rule.parse_generic(line) == want
    assert rule.parse("10.0.0.7 hi") == {
        "source": {"ip": "10.0.0.7", "address": "10.0.0.7"},
        "message": "hi",
    }


def test_a_client_that_is_not_an_ip_sets_source_address_only() -> None:
    rule = _rule(regex=r"^(?P<fwd>\S+, \S+) (?P<message>.*)$", derive={"fwd": "forwarded_for"})
    assert rule.parse("localhost, 10.0.0.1 x") == {
        "fwd": ["localhost", "10.0.0.1"],
        "source": {"address": "localhost"},
        "message": "x",
    }


def test_a_derivation_of_a_field_the_rule_does_not_capture_is_refused() -> None:
    with pytest.raises(RuleError, match="does not capture") as err:
        _rule(regex=r"^(?P<a>\S+)", derive={"b": "forwarded_for"})
    assert err.value.key == "derive"


def test_an_unknown_derivation_is_refused_with_the_known_ones() -> None:
    text = config_text(
        [{"name": "mine", "regex": "(?P<a>x)", "derive": {"a": "first_ip"}}], rules="[mine]"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "test.yaml", REPO, environ={})
    assert err.value.problems == [
        "parsers[0].derive (mine): unknown derivation 'first_ip'; expected one of: forwarded_for"
    ]
