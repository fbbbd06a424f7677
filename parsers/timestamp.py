"""Timestamps: from the text a log line carries to `@timestamp` (UTC, ISO 8601, milliseconds).

Formats are strptime patterns or special names:

- `ISO8601` / `RFC3339`: `2026-11-24T10:00:00.123456+01:00`, `...Z`, a space instead of `T`,
  `,` or `.` before any number of fraction digits (nanoseconds included), no offset (= the zone).
- `UNIX`, `UNIX_MS`, `UNIX_US`, `UNIX_NS`: seconds (fractions allowed) / milli / micro / nano
  seconds since 1970, as text or as a JSON number; `EPOCH` picks the unit by magnitude.
- A strptime pattern without a year (syslog's `%b %d %H:%M:%S`) takes the year that puts the time
  closest before now (a line from Dec 31 read on Jan 1 is last year's; one up to a day ahead of
  the clock is this year's). A pattern with a time but no date takes today's date the same way.

strptime costs microseconds per call, so results are cached by text. Times with fractions of a
second would make every text unique: for formats with `.%f` / `,%f` (and ISO 8601) the fraction
is cut out, the rest is cached per second and the milliseconds are appended. The cache is bounded
and simply cleared when it fills; caches of formats that infer a date are cleared every hour.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsers.strptime import (
    Fast,
    Fields,
    FieldsParser,
    compile_fast,
    compile_fields,
    days_from_civil,
)

UTC = dt.UTC
_CACHE_LIMIT = 4096

SPECIAL_FORMATS = ("ISO8601", "RFC3339", "UNIX", "UNIX_MS", "UNIX_US", "UNIX_NS", "EPOCH")
"""Format names understood besides strptime patterns."""

_EPOCH_DIVISORS = {"UNIX": 1, "UNIX_MS": 1_000, "UNIX_US": 1_000_000, "UNIX_NS": 1_000_000_000}
_FRACTION = re.compile(r":\d\d([.,])(\d+)")
_YEAR_DIRECTIVES = ("%Y", "%y", "%G", "%c", "%x", "%D", "%F")
_DATE_DIRECTIVES = ("%d", "%j", "%m", "%b", "%B", "%h", "%U", "%W", "%V", "%c", "%x", "%D", "%F")
_FUTURE_TOLERANCE_YEARLESS = 86400.0  # a line up to a day ahead of the clock is "this year"
_FUTURE_TOLERANCE_DATELESS = 3600.0  # a time up to an hour ahead is "today"
_MIN_SECONDS = -62135596800  # 0001-01-01
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59
_UNIX_ORDINAL = dt.date(1970, 1, 1).toordinal()


def load_zone(name: str) -> dt.tzinfo:
    """A time zone by IANA name (`Europe/Berlin`), `UTC`, or `local` (the host's zone, DST-aware)."""
    if name.upper() == "UTC":
        return UTC
    if name == "local":
        return _local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin, UTC or local)"
        ) from exc


def _local_zone() -> dt.tzinfo:
    tz_name = os.environ.get("TZ", "").lstrip(":")
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    try:
        with localtime.open("rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        pass
    local = dt.datetime.now().astimezone().tzinfo  # a fixed offset: the last resort
    return local if local is not None else UTC


def validate_format(fmt: str) -> None:
    """Raises ValueError when a format cannot work: not a special name nor a usable strptime pattern."""
    if fmt in SPECIAL_FORMATS:
        return
    if "%" not in fmt:
        raise ValueError(
            f"{fmt!r} is not a strptime format (like '%d/%b/%Y:%H:%M:%S %z') "
            f"nor one of {', '.join(SPECIAL_FORMATS)}"
        )
    sample = dt.datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    try:
        dt.datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        raise ValueError(f"{fmt!r} is not a usable strptime format: {exc}") from None


def format_seconds(seconds: int) -> str:
    """`2026-11-24T10:00:00` for whole seconds since 1970 (UTC), without fraction or zone."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _iso(moment: dt.datetime) -> str:
    u = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"


class _Format:
    """One configured format, prepared: its kind and, for strptime, its fraction-free variant."""

    __slots__ = (
        "date",
        "fast",
        "fast_plain",
        "fields",
        "fields_plain",
        "fraction",
        "inferring",
        "kind",
        "pattern",
        "plain",
        "year",
    )

    def __init__(self, fmt: str) -> None:
        self.pattern = fmt
        self.fraction = False
        self.plain = fmt
        self.year = True
        self.date = True
        self.fast: Fast | None = None
        self.fast_plain: Fast | None = None
        self.fields: FieldsParser | None = None
        self.fields_plain: FieldsParser | None = None
        self.inferring: dict[str, Fast | None] = {}  # candidate pattern -> its fast parser
        if fmt in ("ISO8601", "RFC3339"):
            self.kind = "iso"
            self.fraction = True
        elif fmt in _EPOCH_DIVISORS or fmt == "EPOCH":
            self.kind = "epoch"
        else:
            self.kind = "strptime"
            for sep in (".%f", ",%f"):
                if sep in fmt:
                    self.fraction = True
                    self.plain = fmt.replace(sep, "", 1)
            self.year = any(d in fmt for d in _YEAR_DIRECTIVES)
            self.date = any(d in fmt for d in _DATE_DIRECTIVES)
            self.fast = compile_fast(fmt)
            self.fast_plain = compile_fast(self.plain)
            self.fields = compile_fields(fmt)
            self.fields_plain = compile_fields(self.plain)


class TimestampParser:
    """Parses timestamp text (or a JSON number) with the first format that fits; caches results.

    Returns `@timestamp` text (`2026-11-24T10:00:00.123Z`), or None when no format fits (the
    caller keeps the raw value and tags the record). `cache` maps whole texts to results; the
    record builder looks it up inline before calling the parser.
    """

    def __init__(
        self, formats: list[str], zone: dt.tzinfo = UTC, clock: Callable[[], float] = time.time
    ) -> None:
        for fmt in formats:
            validate_format(fmt)
        self.formats = [_Format(f) for f in formats]
        self.zone = zone
        self.clock = clock
        self.cache: dict[str, str | None] = {}
        self._seconds: dict[str, str | None] = {}  # fraction-free text -> seconds prefix
        self._fractions = any(f.fraction for f in self.formats)
        self._days: dict[int, str] = {}  # days since 1970 -> "YYYY-MM-DD"
        self._offsets: dict[tuple[int, int, int, int, int], int] = {}  # local minute -> offset
        self.infers_date = any(not (f.year and f.date) for f in self.formats)
        self._hour = int(clock() // 3600)

    def refresh(self, now: float) -> None:
        """Once per batch: caches of formats that infer the year or date expire every hour."""
        if self.infers_date:
            hour = int(now // 3600)
            if hour != self._hour:
                self._hour = hour
                self.cache.clear()
                self._seconds.clear()

    def __call__(self, value: object) -> str | None:
        if isinstance(value, str):
            hit = self.cache.get(value)
            if hit is not None:
                return hit
            return self._text(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._number(value)
        return None

    def _text(self, text: str) -> str | None:
        if self._fractions:
            m = _FRACTION.search(text)
            if m is not None:
                key = text[: m.start(1)] + text[m.end(2) :]
                prefix = self._seconds.get(key, "")
                if prefix == "":
                    prefix = self._parse_seconds(key, text)
                    if len(self._seconds) >= _CACHE_LIMIT:
                        self._seconds.clear()
                    self._seconds[key] = prefix
                if prefix is None:
                    return None
                return f"{prefix}.{(m.group(2) + '00')[:3]}Z"
        cache = self.cache
        if text in cache:
            return None  # a cached failure
        value = self._parse_whole(text)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def _parse_seconds(self, key: str, text: str) -> str | None:
        """Formats with fractions, on the text without its fraction: the seconds prefix."""
        for fmt in self.formats:
            if not fmt.fraction:
                continue
            if fmt.fields_plain is not None:
                got = fmt.fields_plain(key)
                prefix = self._prefix(got) if got is not None else None
                if prefix is not None:
                    return prefix
                continue
            moment = self._moment(fmt, key)
            if moment is not None:
                return _iso(moment)
        whole = self._parse_whole(text)  # e.g. UNIX "1764000000.123" matched `:\d\d.` by chance
        return whole[:-5] if whole is not None else None

    def _parse_whole(self, text: str) -> str | None:
        for fmt in self.formats:
            if fmt.kind == "epoch":
                value = _epoch(text.strip(), fmt.pattern)
                if value is not None:
                    return value
                continue
            if fmt.fields is not None:
                got = fmt.fields(text)
                prefix = self._prefix(got) if got is not None else None
                if prefix is not None:
                    assert got is not None
                    return f"{prefix}.{got[6] // 1000:03d}Z"
                continue
            moment = self._moment(fmt, text, whole=True)
            if moment is not None:
                return f"{_iso(moment)}.{moment.microsecond // 1000:03d}Z"
        return None

    def _prefix(self, fields: Fields) -> str | None:
        """`YYYY-MM-DDTHH:MM:SS` (UTC) of parsed fields, by arithmetic: no datetime objects."""
        year, month, day, hour, minute, second, _, offset = fields
        if offset is None:
            if self.zone is UTC:
                offset = 0
            else:
                local = (year, month, day, hour, minute)
                offset = self._offsets.get(local)
                if offset is None:
                    utcoffset = dt.datetime(*local, tzinfo=self.zone).utcoffset()
                    offset = int(utcoffset.total_seconds()) if utcoffset is not None else 0
                    if len(self._offsets) >= _CACHE_LIMIT:
                        self._offsets.clear()
                    self._offsets[local] = offset
        epoch = (
            days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
        )
        days, seconds_of_day = divmod(epoch, 86400)
        date = self._days.get(days)
        if date is None:
            if not _MIN_SECONDS <= epoch <= _MAX_SECONDS:
                return None
            date = dt.date.fromordinal(days + _UNIX_ORDINAL).isoformat()
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
            self._days[days] = date
        hours, rest = divmod(seconds_of_day, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{date}T{hours:02d}:{minutes:02d}:{secs:02d}"

    def _moment(self, fmt: _Format, text: str, whole: bool = False) -> dt.datetime | None:
        pattern = fmt.pattern if whole else fmt.plain
        try:
            if fmt.kind == "iso":
                moment = dt.datetime.fromisoformat(text.strip())
            elif fmt.kind != "strptime":
                return None
            elif fmt.year and fmt.date:
                fast = fmt.fast if whole else fmt.fast_plain
                if fast is not None:
                    return fast(text, self.zone)  # equivalent to strptime, much cheaper
                moment = dt.datetime.strptime(text, pattern)
            else:
                return self._inferred(fmt, pattern, text)
        except (ValueError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment

    def _inferred(self, fmt: _Format, pattern: str, text: str) -> dt.datetime | None:
        """A format without a year (or date): the candidate closest before now (plus a tolerance)."""
        now = self.clock()
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        if not fmt.date:
            days = [today + dt.timedelta(days=d) for d in (1, 0, -1)]
            texts = [(f"{d.isoformat()} {text}", f"%Y-%m-%d {pattern}") for d in days]
            tolerance = _FUTURE_TOLERANCE_DATELESS
        else:
            # Y+1 .. Y-1 decide every date; Feb 29 may need to go back to the last leap year.
            years = range(today.year + 1, today.year - 5, -1)
            texts = [(f"{y} {text}", f"%Y {pattern}") for y in years]
            tolerance = _FUTURE_TOLERANCE_YEARLESS
        if pattern not in fmt.inferring:
            fmt.inferring[pattern] = compile_fast(texts[0][1])
        fast = fmt.inferring[pattern]
        for candidate, cand_pattern in texts:
            if fast is not None:
                maybe = fast(candidate, self.zone)
                if maybe is None:
                    continue  # Feb 29 in a year without one, or not this format at all
                moment = maybe
            else:
                try:
                    moment = dt.datetime.strptime(candidate, cand_pattern)
                except ValueError:
                    continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone)
            if moment.timestamp() <= now + tolerance:
                return moment
        return None

    def _number(self, value: float) -> str | None:
        for fmt in self.formats:
            if fmt.kind == "epoch":
                out = _epoch(value, fmt.pattern)
                if out is not None:
                    return out
        return None


def _epoch(value: str | float, fmt: str) -> str | None:
    """Epoch text or number in the format's unit -> `@timestamp`, or None."""
    if isinstance(value, str):
        if not value:
            return None
        digits = value[1:] if value[0] == "-" else value
        if digits.isdigit() and digits.isascii():
            number: int | float = int(value)
        else:
            try:
                number = float(value)
            except ValueError:
                return None
    else:
        number = value
    if math.isnan(number):
        return None
    divisor = _EPOCH_DIVISORS.get(fmt)
    if divisor is None:
        divisor = _epoch_unit(abs(number))
        if divisor is None:
            return None
    if isinstance(number, int):
        seconds, rest = divmod(number, divisor)
        millis = rest * 1000 // divisor
    else:
        scaled = number / divisor
        if scaled in (float("inf"), float("-inf")):
            return None
        seconds = int(scaled // 1)
        millis = min(int((scaled - seconds) * 1000), 999)
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        return None
    try:
        return f"{format_seconds(seconds)}.{millis:03d}Z"
    except (OverflowError, OSError, ValueError):
        return None


def _epoch_unit(magnitude: float) -> int | None:
    """`EPOCH`: the unit by magnitude (values before 1973 or after 5138 in every unit are refused)."""
    if 1e8 <= magnitude < 1e11:
        return 1
    if 1e11 <= magnitude < 1e14:
        return 1_000
    if 1e14 <= magnitude < 1e17:
        return 1_000_000
    if 1e17 <= magnitude < 1e20:
        return 1_000_000_000
    return None
