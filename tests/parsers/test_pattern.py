"""Rule patterns: dotted group names, error positions in the user's text, required groups."""

from __future__ import annotations

import pytest

from parsers.pattern import PatternError, compile_pattern, compile_rule_pattern


def test_dotted_group_names_are_captured_as_field_names() -> None:
    p = compile_rule_pattern(r"(?P<http.request.method>[A-Z]+) (?<url.original>\S+)")
    m = p.compiled.match("GET /x")
    assert m is not None
    assert [(name, m.group(number)) for number, name in p.fields] == [
        ("http.request.method", "GET"),
        ("url.original", "/x"),
    ]


def test_group_syntax_inside_classes_and_escapes_is_left_alone() -> None:
    p = compile_rule_pattern(r"[(?P<x>]\(?P<y>(?P<z>\d)")
    assert p.field_names == ["z"]
    m = p.compiled.match("?(P<y>7")  # one class character, an optional "(", "P<y>" literally
    assert m is not None
    assert m.group(1) == "7"


def test_compile_error_position_points_into_the_pattern_as_written() -> None:
    pattern = "(?P<http.request.method>[A-Z]+) (?P<a.b>x"
    with pytest.raises(PatternError) as err:
        compile_rule_pattern(pattern)
    assert err.value.position == len(pattern)
    assert "missing )" in str(err.value)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^(?P<client.ip>\S+) [abc(?P<rest>.*)$",  # compiled by the regex module after re refuses
        r"(?P<a>\p{L}+) [x(?P<b>.*)",  # a regex-only pattern
        r"(?P<a>[\]]) [\]x",  # escaped brackets before the unclosed one
    ],
)
def test_an_unterminated_set_is_reported_where_its_bracket_opens(pattern: str) -> None:
    opening = pattern.rindex(" [") + 1
    with pytest.raises(PatternError) as err:
        compile_rule_pattern(pattern)
    assert err.value.position == opening
    assert str(err.value) == f"does not compile at position {opening}: unterminated character set"
    plain = pattern.replace("client.ip", "ip")
    with pytest.raises(PatternError) as err:
        compile_pattern(plain)
    assert err.value.position == plain.rindex(" [") + 1


def test_error_after_a_renamed_group_is_mapped_back() -> None:
    pattern = "(?P<a.very.long.field.name>x))"
    with pytest.raises(PatternError) as err:
        compile_rule_pattern(pattern)
    assert err.value.position == pattern.rindex(")")


def test_bad_group_name_is_named_with_its_position() -> None:
    with pytest.raises(PatternError, match=r"position 4: bad group name 'a b'"):
        compile_rule_pattern("(?P<a b>x)")


def test_groups_outside_optional_parts_are_required() -> None:
    p = compile_rule_pattern(r"(?P<a>x)(?:(?P<b>y)|z)?(?P<c>w)+(?P<d>v)*(?=(?P<e>u))")
    numbers = {name: number for number, name in p.fields}
    assert p.required == {numbers["a"], numbers["c"], numbers["e"]}


def test_regex_module_syntax_falls_back_to_regex_with_no_required_groups() -> None:
    p = compile_rule_pattern(r"(?P<word>\p{L}+)")
    assert p.engine == "regex"
    assert p.required == frozenset()
    m = p.compiled.match("größe")
    assert m is not None
    assert m.group(1) == "größe"


def test_a_field_captured_twice_keeps_both_groups() -> None:
    p = compile_rule_pattern(r"(?:(?P<v>\d+)|(?P<v>[a-z]+))")
    assert [name for _, name in p.fields] == ["v", "v"]
    assert p.field_names == ["v"]
