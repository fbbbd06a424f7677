"""Timestamps: ISO 8601 / RFC 3339, epochs, strptime, year and date inference, zones, caching."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.strptime import compile_fast
from parsers.timestamp import TimestampParser, load_zone, validate_format


def at(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00.000Z"),
        ("2026-11-24T10:00:00.5Z", "2026-11-24T10:00:00.500Z"),
        ("2026-11-24T10:00:00.123456789Z", "2026-11-24T10:00:00.123Z"),
        ("2026-11-24T10:00:00.999999+01:00", "2026-11-24T09:00:00.999Z"),
        ("2026-11-24T10:00:00-0530", "2026-11-24T15:30:00.000Z"),
        ("2026-11-24 10:00:00,042", "2026-11-24T10:00:00.042Z"),
        ("2026-11-24T10:00", "2026-11-24T10:00:00.000Z"),
        ("2026-11-24", "2026-11-24T00:00:00.000Z"),
    ],
)
def test_iso8601_with_fractions_and_offsets(text: str, expected: str) -> None:
    assert TimestampParser(["ISO8601"])(text) == expected


def test_iso8601_without_offset_is_read_in_the_zone() -> None:
    berlin = TimestampParser(["RFC3339"], load_zone("Europe/Berlin"))
    assert berlin("2026-01-15T12:00:00") == "2026-01-15T11:00:00.000Z"
    assert berlin("2026-07-15T12:00:00") == "2026-07-15T10:00:00.000Z"  # summer time


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        ("UNIX", "1764000000", "2025-11-24T16:00:00.000Z"),
        ("UNIX", "1764000000.25", "2025-11-24T16:00:00.250Z"),
        ("UNIX", 1764000000.5, "2025-11-24T16:00:00.500Z"),
        ("UNIX_MS", "1764000000123", "2025-11-24T16:00:00.123Z"),
        ("UNIX_MS", 1764000000123, "2025-11-24T16:00:00.123Z"),
        ("UNIX_US", "1764000000123456", "2025-11-24T16:00:00.123Z"),
        ("UNIX_NS", "1764000000123456789", "2025-11-24T16:00:00.123Z"),
        ("EPOCH", "1764000000", "2025-11-24T16:00:00.000Z"),
        ("EPOCH", "1764000000123", "2025-11-24T16:00:00.123Z"),
        ("EPOCH", 1764000000123456, "2025-11-24T16:00:00.123Z"),
        ("EPOCH", "1764000000123456789", "2025-11-24T16:00:00.123Z"),
    ],
)
def test_epochs_in_every_unit(fmt: str, value: object, expected: str) -> None:
    assert TimestampParser([fmt])(value) == expected


@pytest.mark.parametrize("value", ["12", "0.247", "abc", "", True, None, float("nan"), "9" * 30])
def test_epoch_auto_refuses_values_that_are_no_plausible_time(value: object) -> None:
    assert TimestampParser(["EPOCH"])(value) is None


def test_strptime_formats_in_order_and_failures_are_none() -> None:
    parser = TimestampParser(["%d/%b/%Y:%H:%M:%S %z", "%Y/%m/%d %H:%M:%S"])
    assert parser("24/Nov/2025:16:00:00 +0100") == "2025-11-24T15:00:00.000Z"
    assert parser("2025/11/24 16:00:00") == "2025-11-24T16:00:00.000Z"
    assert parser("24/Foo/2025:16:00:00 +0100") is None
    assert parser("24/Foo/2025:16:00:00 +0100") is None  # a cached failure


def test_fractions_share_one_strptime_per_second() -> None:
    parser = TimestampParser(["%Y-%m-%d %H:%M:%S,%f"])
    assert parser("2015-10-18 18:01:47,978") == "2015-10-18T18:01:47.978Z"
    assert parser("2015-10-18 18:01:47,001") == "2015-10-18T18:01:47.001Z"
    assert parser("2015-10-18 18:01:47,5") == "2015-10-18T18:01:47.500Z"
    assert len(parser._seconds) == 1


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (at(2026, 6, 15), "Jun 14 15:16:01", "2026-06-14T15:16:01.000Z"),
        (at(2026, 6, 15), "Dec 24 10:00:00", "2025-12-24T10:00:00.000Z"),
        (at(2026, 1, 1, 0, 0, 5), "Dec 31 23:59:59", "2025-12-31T23:59:59.000Z"),
        (at(2025, 12, 31, 23, 59, 50), "Jan  1 00:00:10", "2026-01-01T00:00:10.000Z"),
        (at(2026, 6, 15, 1, 0, 0), "Jun 15 22:00:00", "2026-06-15T22:00:00.000Z"),
        (at(2026, 1, 2), "Feb 29 06:00:00", "2024-02-29T06:00:00.000Z"),
        (at(2028, 3, 1), "Feb 29 06:00:00", "2028-02-29T06:00:00.000Z"),
    ],
)
def test_syslog_dates_without_a_year_take_the_closest_past_year(
    now: float, text: str, expected: str
) -> None:
    assert TimestampParser(["%b %d %H:%M:%S"], clock=lambda: now)(text) == expected


def test_times_without_a_date_are_today_or_yesterday() -> None:
    now = at(2026, 1, 2, 10, 0, 0)
    parser = TimestampParser(["%H:%M:%S.%f"], clock=lambda: now)
    assert parser("09:59:59.123") == "2026-01-02T09:59:59.123Z"
    assert parser("10:30:00.000") == "2026-01-02T10:30:00.000Z"  # within the hour of tolerance
    assert parser("23:00:00.000") == "2026-01-01T23:00:00.000Z"


def test_caches_of_inferred_dates_expire_on_refresh_the_next_hour() -> None:
    now = [at(2025, 12, 31, 23, 30)]
    parser = TimestampParser(["%b %d %H:%M:%S"], clock=lambda: now[0])
    assert parser("Jan  2 10:00:00") == "2025-01-02T10:00:00.000Z"  # 34 h ahead: last year's
    now[0] = at(2026, 1, 2, 10, 30)
    parser.refresh(at(2025, 12, 31, 23, 45))
    assert parser("Jan  2 10:00:00") == "2025-01-02T10:00:00.000Z"  # same hour: still cached
    parser.refresh(now[0])
    assert parser("Jan  2 10:00:00") == "2026-01-02T10:00:00.000Z"


def test_formats_are_validated() -> None:
    validate_format("ISO8601")
    validate_format("%d/%b/%Y:%H:%M:%S %z")
    with pytest.raises(ValueError, match="not a strptime format"):
        validate_format("yyyy-MM-dd")
    with pytest.raises(ValueError, match="not a usable strptime format"):
        validate_format("%Q")


def test_unknown_zone_is_an_error_and_local_is_a_real_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        load_zone("Mars/Olympus")
    assert load_zone("local") is not None
    assert load_zone("utc") is dt.UTC


FORMATS = [
    "%d/%b/%Y:%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S,%f",
    "%Y/%m/%d %H:%M:%S",
    "%a %b %d %H:%M:%S.%f %Y",
    "%a %b %d %H:%M:%S %Y",
    "%y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%z",
    "%d.%m.%Y %H:%M",
    "%B %d, %Y %H:%M:%S",
    "%Y %b %d %H:%M:%S",
]


@settings(max_examples=400, deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    offset=st.integers(-14 * 60, 14 * 60),
    fmt=st.sampled_from(FORMATS),
    upper=st.booleans(),
)
def test_fast_path_agrees_with_datetime_strptime(
    moment: dt.datetime, offset: int, fmt: str, upper: bool
) -> None:
    aware = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
    text = aware.strftime(fmt)
    if upper:
        text = text.upper()
    fast = compile_fast(fmt)
    assert fast is not None
    expected = dt.datetime.strptime(text, fmt)
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=dt.UTC)
    assert fast(text, dt.UTC) == expected


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="0123456789 /:.,+-TZJanFebDecMonmon", max_size=30),
    fmt=st.sampled_from(FORMATS),
)
def test_fast_path_refuses_what_strptime_refuses(text: str, fmt: str) -> None:
    fast = compile_fast(fmt)
    assert fast is not None
    try:
        expected: dt.datetime | None = dt.datetime.strptime(text, fmt)
    except ValueError:
        expected = None
    got = fast(text, dt.UTC)
    if expected is not None and expected.tzinfo is None:
        expected = expected.replace(tzinfo=dt.UTC)
    assert got == expected


def test_formats_the_fast_path_leaves_to_strptime() -> None:
    assert compile_fast("%b %d %H:%M:%S") is None  # no year: inferred by the slow path
    assert compile_fast("%c") is None
    assert compile_fast("%Y-%j") is None


def reference(text: str, fmt: str, zone: dt.tzinfo) -> str | None:
    """@timestamp the slow, obvious way: datetime.strptime, the zone, astimezone."""
    try:
        moment = dt.datetime.strptime(text, fmt)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    u = moment.astimezone(dt.UTC)
    return f"{u:%Y-%m-%dT%H:%M:%S}.{u.microsecond // 1000:03d}Z"


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    offset=st.integers(-14 * 60, 14 * 60),
    fmt=st.sampled_from(FORMATS),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
)
def test_timestamp_parser_output_equals_the_strptime_reference(
    moment: dt.datetime, offset: int, fmt: str, zone: str
) -> None:
    tz = load_zone(zone)
    text = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset))).strftime(fmt)
    assert TimestampParser([fmt], tz)(text) == reference(text, fmt, tz)
