from __future__ import annotations

import pytest

from logship.core.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("500ms", 0.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("2.5s", 2.5),
        (7, 7.0),
        ("10", 10.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512KiB", 524288),
        ("4MiB", 4194304),
        ("1GB", 10**9),
        ("10kb", 10_000),
        (123, 123),
        ("1k", 1024),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["soon", "-1s", True, [], "5 parsecs"])
def test_bad_durations_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["big", -1, False, "4 MiBs"])
def test_bad_sizes_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)
