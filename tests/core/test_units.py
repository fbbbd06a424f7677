from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from logship.core.sink import BatchSettings
from logship.core.units import Milliseconds, parse_duration, parse_size


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


def test_milliseconds_take_a_plain_number_as_milliseconds_and_strings_as_durations() -> None:
    adapter: TypeAdapter[float] = TypeAdapter(Milliseconds)
    assert adapter.validate_python(200) == 200.0
    assert adapter.validate_python("200ms") == 200.0
    assert adapter.validate_python("1.5s") == 1500.0
    with pytest.raises(ValidationError, match="expected a duration"):
        adapter.validate_python("soon")


def test_linger_ms_keeps_reading_integers_as_milliseconds_and_accepts_durations() -> None:
    assert BatchSettings.model_validate({"linger_ms": 200}).linger == 0.2
    assert BatchSettings.model_validate({"linger_ms": "0.5s"}).linger == 0.5
    dumped = BatchSettings.model_validate({"linger_ms": "50ms"}).model_dump()
    assert BatchSettings.model_validate(dumped).linger_ms == 50.0  # reads back the same
