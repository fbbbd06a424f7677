"""A fast path for the strptime formats logs use: digits, English month and day names, offsets.

`datetime.strptime` spends about 6 us per call in Python-level bookkeeping (locale checks, a
lock, a generic regex, `time.struct_time`). Timestamps are cached, but a quiet log rarely repeats
a second, so every line misses the cache. For formats made only of the directives below, the
format is compiled once into a regex mirroring strptime's own and the fields are combined
directly; anything else (locale-dependent %c / %x, %j, %U, %Z, ...) uses `datetime.strptime`.
Matching mirrors strptime: case-insensitive names, one or more spaces for a space in the
format, the same accepted ranges. Tests check both agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for name in names
}
_ABBREVIATED_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_FULL_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_ABBREVIATED_DAYS = "mon|tue|wed|thu|fri|sat|sun"
_FULL_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"

# The regexes of CPython's _strptime for these directives (C locale).
_DIRECTIVES = {
    "d": r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "Y": r"(?P<Y>\d\d\d\d)",
    "y": r"(?P<y>\d\d)",
    "H": r"(?P<H>2[0-3]|[0-1]\d|\d)",
    "M": r"(?P<M>[0-5]\d|\d)",
    "S": r"(?P<S>6[0-1]|[0-5]\d|\d)",
    "f": r"(?P<f>[0-9]{1,6})",
    "b": f"(?P<b>{_ABBREVIATED_MONTHS})",
    "h": f"(?P<b>{_ABBREVIATED_MONTHS})",
    "B": f"(?P<b>{_FULL_MONTHS})",
    "a": f"(?:{_ABBREVIATED_DAYS})",
    "A": f"(?:{_FULL_DAYS})",
    "z": r"(?P<z>[+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z))",
    "%": "%",
}

Fast = Callable[[str, dt.tzinfo], dt.datetime | None]
Fields = tuple[int, int, int, int, int, int, int, int | None]
"""year, month, day, hour, minute, second, microsecond, UTC offset in seconds (None: no %z)."""
FieldsParser = Callable[[str], Fields | None]

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def compile_fields(fmt: str) -> FieldsParser | None:
    """A parser of this format into validated fields (None when the text does not fit, exactly
    where `datetime.strptime` raises), or None when the fast path does not handle the format."""
    parts: list[str] = []
    used: set[str] = set()
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            if i + 1 >= len(fmt):
                return None
            directive = fmt[i + 1]
            regex = _DIRECTIVES.get(directive)
            key = "b" if directive in "hB" else directive
            if regex is None or (key in used and directive != "%"):
                return None
            used.add(key)
            parts.append(regex)
            i += 2
        elif c.isspace():
            parts.append(r"\s+")
            while i < len(fmt) and fmt[i].isspace():
                i += 1
        else:
            parts.append(re.escape(c))
            i += 1
    if not ({"Y", "y"} & used and {"m", "b"} & used and "d" in used):
        return None  # year, month and day are all needed (inference is the slow path's job)
    compiled = re.compile("".join(parts), re.IGNORECASE)
    match = compiled.fullmatch
    index = compiled.groupindex

    def group(name: str) -> int:
        """Index into m.groups() (+1), 0 when the format does not have it."""
        return index.get(name, 0)

    g_year = group("Y") or group("y")
    two_digit_year = "Y" not in used
    g_month, g_name = group("m"), group("b")
    g_day, g_hour, g_minute, g_second = group("d"), group("H"), group("M"), group("S")
    g_fraction, g_offset = group("f"), group("z")

    def parse(text: str) -> Fields | None:
        m = match(text)
        if m is None:
            return None
        g = (None, *m.groups())
        year = int(g[g_year])  # type: ignore[arg-type]
        if two_digit_year:
            year += 2000 if year <= 68 else 1900  # POSIX, as strptime does
        month = MONTHS[g[g_name].lower()] if g_name else int(g[g_month])  # type: ignore[union-attr,arg-type]
        day = int(g[g_day])  # type: ignore[arg-type]
        second = int(g[g_second]) if g_second else 0  # type: ignore[arg-type]
        if year < 1 or second > 59:
            return None
        if day > _DAYS_IN_MONTH[month - 1] and not (
            month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        ):
            return None
        micro = int(g[g_fraction].ljust(6, "0")) if g_fraction else 0  # type: ignore[union-attr]
        offset = None
        if g_offset:
            text_offset: str = g[g_offset]  # type: ignore[assignment]
            offset = _OFFSETS.get(text_offset)
            if offset is None:
                offset = _offset_seconds(text_offset)
                if offset is None:
                    return None
                if len(_OFFSETS) < 1024:
                    _OFFSETS[text_offset] = offset
        return (
            year,
            month,
            day,
            int(g[g_hour]) if g_hour else 0,  # type: ignore[arg-type]
            int(g[g_minute]) if g_minute else 0,  # type: ignore[arg-type]
            second,
            micro,
            offset,
        )

    return parse


def compile_fast(fmt: str) -> Fast | None:
    """A parser equivalent to `datetime.strptime(text, fmt)` (naive results get `zone`), or None
    when the format uses a directive the fast path does not handle, or lacks a full date."""
    fields = compile_fields(fmt)
    if fields is None:
        return None

    def parse(text: str, zone: dt.tzinfo) -> dt.datetime | None:
        got = fields(text)
        if got is None:
            return None
        year, month, day, hour, minute, second, micro, offset = got
        tz = zone if offset is None else _timezone(offset)
        return dt.datetime(year, month, day, hour, minute, second, micro, tz)

    return parse


_OFFSETS: dict[str, int] = {}


def _offset_seconds(text: str) -> int | None:
    """`+01:00` / `-0530` / `Z` -> seconds east of UTC (whole seconds are what `@timestamp`
    needs; offsets with fractions of a second do not occur); None when out of range."""
    if text in ("Z", "z"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    seconds = int(digits[0:2]) * 3600 + int(digits[2:4]) * 60
    if len(digits) >= 6:
        seconds += int(digits[4:6])
    if seconds >= 86400:
        return None
    return sign * seconds


def _timezone(offset: int) -> dt.tzinfo:
    return dt.UTC if offset == 0 else dt.timezone(dt.timedelta(seconds=offset))


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
