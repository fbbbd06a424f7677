from __future__ import annotations

import re

import pytest
import regex

from parsers.config import optional_groups


@pytest.mark.parametrize(
    ("pattern", "optional"),
    [
        (r"(?P<a>\d+) (?P<b>\w+)", set()),
        (r"(?P<a>\d+)(?: (?P<b>\w+))?", {"b"}),
        (r"(?P<a>x)|(?P<b>y)", {"a", "b"}),
        (r"(?P<a>x)*(?P<b>y)+", {"a"}),
        (r"(?:(?P<a>x)(?P<b>y)){0,3}", {"a", "b"}),
        (r"(?P<a>x)(?=(?P<b>y))", {"b"}),
    ],
)
def test_groups_that_can_miss_are_found(pattern: str, optional: set[str]) -> None:
    assert optional_groups(re.compile(pattern)) == optional


def test_every_group_of_a_regex_module_pattern_counts_as_optional() -> None:
    assert optional_groups(regex.compile(r"(?P<a>\p{L}+) (?P<b>x)")) == {"a", "b"}


def test_a_required_group_never_matches_none() -> None:
    pattern = re.compile(r"^(?P<a>\w+)(?: \[(?P<b>\d+)\])?: (?P<c>.*)$")
    required = set(pattern.groupindex) - optional_groups(pattern)
    for line in ["x: y", "x [1]: y", "abc: "]:
        m = pattern.match(line)
        assert m is not None
        assert all(m.group(g) is not None for g in required)
