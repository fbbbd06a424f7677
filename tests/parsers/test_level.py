"""Levels normalised to trace, debug, info, warn, error, fatal."""

from __future__ import annotations

import pytest

from parsers.level import LevelNormalizer, normalize_level


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("E", "error"),
        ("ERR", "error"),
        ("error", "error"),
        ("Error", "error"),
        ("SEVERE", "error"),
        ("3", "error"),
        ("W", "warn"),
        ("WARN", "warn"),
        ("warning", "warn"),
        ("4", "warn"),
        ("notice", "info"),
        ("I", "info"),
        ("6", "info"),
        ("30", "info"),
        ("DEBUG", "debug"),
        ("7", "debug"),
        ("trace5", "trace"),
        ("crit", "fatal"),
        ("EMERG", "fatal"),
        ("0", "fatal"),
        ("60", "fatal"),
        (50, "error"),
        (" Info ", "info"),
        ("Verbose2", "verbose2"),
    ],
)
def test_levels_are_normalised(raw: object, level: str) -> None:
    assert normalize_level(raw) == level


def test_a_rules_own_mapping_comes_first_and_is_case_insensitive() -> None:
    normalizer = LevelNormalizer({"S": "fatal", "Loud": "warn"})
    assert normalizer["s"] == "fatal"
    assert normalizer["LOUD"] == "warn"
    assert normalizer["E"] == "error"


def test_normalizer_caches_and_stays_bounded() -> None:
    normalizer = LevelNormalizer()
    for i in range(5000):
        assert normalizer[f"custom{i}"] == f"custom{i}"
    assert len(normalizer) <= 1024
