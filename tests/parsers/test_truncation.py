"""No silent truncation: on every line a built-in rule matches, the text fields a quoted or escaped
part of a line lands in end where that part ends, never inside an escape sequence.

A field that ends with an odd number of backslashes was cut between `\\` and the character it
escapes: the rule took an escaped quote (`\\"`, Apache's way of writing `"` inside a quoted
field) for the closing quote, and the rest of the field (and of the line, when the pattern then
stopped) was lost without a tag. Checked on every line of the shared corpora and of the golden
files, for every built-in rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.core.record import get_field
from parsers.compiler import compile_rule
from parsers.section import ParsersSettings

HERE = Path(__file__).parent
CHECKED = ("url.original", "user_agent.original", "http.request.referrer", "message")


def _cut_inside_an_escape(value: str) -> bool:
    backslashes = len(value) - len(value.rstrip("\\"))
    return backslashes % 2 == 1


def problems(paths: list[Path]) -> Iterator[str]:
    """`file:line rule field value` for every field cut inside an escape."""
    section = ParsersSettings()
    rules = [
        compile_rule(section.rule(name), section.library)
        for name in section.rule_names()
        if section.entry(name).builtin  # type: ignore[union-attr]
    ]
    for path in paths:
        texts = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, text in enumerate(texts, 1):
            for rule in rules:
                record: Any = rule.parse(text)
                if record is None:
                    continue
                for field in CHECKED:
                    value = get_field(record, field)
                    if isinstance(value, str) and _cut_inside_an_escape(value):
                        yield f"{path.name}:{number} {rule.name} {field}={value!r}"


def test_no_built_in_rule_cuts_a_field_inside_an_escape_on_the_corpora(corpora: Path) -> None:
    paths = sorted(corpora.rglob("*.log"))
    assert len(paths) >= 20
    found = list(problems(paths))
    assert not found, "\n".join(found[:20])


def test_no_built_in_rule_cuts_a_field_inside_an_escape_on_the_golden_lines() -> None:
    paths = sorted([*(HERE / "golden").glob("*.log"), *(HERE / "filebeat").glob("*.log")])
    found = list(problems(paths))
    assert not found, "\n".join(found[:20])


@pytest.mark.parametrize(
    ("value", "cut"),
    [("Mozilla/5.0 \\", True), ("a\\\\", False), ('a \\"b\\"', False), ("plain", False)],
)
def test_a_value_ending_in_an_unfinished_escape_counts_as_cut(value: str, cut: bool) -> None:
    assert _cut_inside_an_escape(value) is cut
