"""Grok: references, typed captures, the shipped library, errors that name what is wrong."""

from __future__ import annotations

import re

import pytest

from parsers.grok import GrokError, GrokLibrary, parse_pattern_lines
from parsers.pattern import compile_rule_pattern


@pytest.fixture(scope="module")
def library() -> GrokLibrary:
    return GrokLibrary.builtin()


def test_every_shipped_pattern_expands_and_compiles(library: GrokLibrary) -> None:
    for name in library.names():
        compile_rule_pattern(library.expand(f"%{{{name}}}").regex)


def test_references_capture_into_dotted_fields_with_types(library: GrokLibrary) -> None:
    expansion = library.expand("%{IPORHOST:source.address} %{NUMBER:http.response.status_code:int}")
    assert expansion.types == {"http.response.status_code": "int"}
    p = compile_rule_pattern(expansion.regex)
    m = p.compiled.match("example.com 404")
    assert m is not None
    assert {name: m.group(n) for n, name in p.fields} == {
        "source.address": "example.com",
        "http.response.status_code": "404",
    }


def test_type_aliases_of_other_grok_dialects_are_accepted(library: GrokLibrary) -> None:
    types = library.expand("%{INT:a:long} %{NUMBER:b:double} %{WORD:c:boolean}").types
    assert types == {"a": "int", "b": "float", "c": "bool"}


def test_typed_captures_inside_library_patterns_are_kept(library: GrokLibrary) -> None:
    assert library.expand("%{SYSLOGPROG}").types == {"process.pid": "int"}


def test_unknown_pattern_is_named_with_a_suggestion(library: GrokLibrary) -> None:
    with pytest.raises(GrokError, match=r"unknown grok pattern 'IPORHOT' at position 4.*IPORHOST"):
        library.expand("x - %{IPORHOT:source.ip}")


def test_unknown_type_is_refused(library: GrokLibrary) -> None:
    with pytest.raises(GrokError, match="unknown type 'date'"):
        library.expand("%{WORD:x:date}")


def test_patterns_referring_to_each_other_in_a_cycle_are_refused() -> None:
    lib = GrokLibrary({"A": "%{B}", "B": "x%{A}"})
    with pytest.raises(GrokError, match="cycle: A -> B -> A"):
        lib.expand("%{A}")


def test_extended_library_adds_and_replaces_patterns(library: GrokLibrary) -> None:
    own = library.extended({"ORDER_ID": r"[A-Z]{3}-\d+", "WORD": "[a-z]+"})
    p = compile_rule_pattern(own.expand("%{ORDER_ID:order.id} %{WORD:w}").regex)
    assert p.compiled.fullmatch("ABC-12 abc") is not None
    assert p.compiled.fullmatch("ABC-12 ABC") is None
    assert library.expand("%{WORD}").regex != own.expand("%{WORD}").regex


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("10.0.0.1", True),
        ("255.255.255.255", True),
        ("256.1.1.1", False),
        ("1.2.3", False),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("2a03:0000:10ff:f00f:0000:0000:0:8000", True),
        ("::ffff:192.0.2.1", True),
        ("1:2:3:4:5:6:7:8:9", False),
        ("1::2::3", False),
        ("gg::1", False),
    ],
)
def test_ip_accepts_addresses_and_refuses_lookalikes(
    library: GrokLibrary, text: str, ok: bool
) -> None:
    pattern = re.compile("^" + library.expand("%{IP}").regex + "$")
    assert (pattern.match(text) is not None) is ok


def test_pattern_files_are_name_regex_lines() -> None:
    assert parse_pattern_lines("# c\n\nA [a-z]+\nB %{A} x\n", "f") == {"A": "[a-z]+", "B": "%{A} x"}
    with pytest.raises(GrokError, match="f:2"):
        parse_pattern_lines("A x\nnot-a-name x\n", "f")
