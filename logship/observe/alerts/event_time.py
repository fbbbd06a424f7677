"""Event times: a record's `@timestamp` as Unix seconds, cheaply (only matching records pay)."""

from __future__ import annotations

import calendar
import datetime as dt

_CACHE_LIMIT = 4096


class EventTimes:
    """Parses `@timestamp` text; the agent's own form (`2026-11-24T10:00:00.123Z`) by a cache of
    whole seconds, anything else ISO 8601 by `datetime.fromisoformat` (no zone: UTC)."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._whole: dict[object, float | None] = {}
        """Whole `@timestamp` texts: a busy log repeats each one for many records."""

    def of(self, stamp: object) -> float | None:
        """Unix seconds of a `@timestamp` value, or None when it is not a time."""
        if stamp.__class__ is str:
            found = self._whole.get(stamp, self)
            if found is not self:
                return found  # type: ignore[return-value]
            if len(self._whole) >= _CACHE_LIMIT:
                self._whole.clear()
            t = self._whole[stamp] = self._parse(stamp)
            return t
        return self._parse(stamp)

    def _parse(self, stamp: object) -> float | None:
        if stamp.__class__ is not str:
            if stamp.__class__ in (int, float):
                return float(stamp)
            return None
        text: str = stamp
        if len(text) == 24 and text[19] == "." and text[23] == "Z":
            head = text[:19]
            base = self._seconds.get(head)
            if base is None:
                base = self._parse_seconds(head)
                if base is None:
                    return None
            millis = text[20:23]
            if millis.isdigit():
                return base + int(millis) / 1000
            return None
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()

    def _parse_seconds(self, head: str) -> float | None:
        try:
            moment = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return None
        if len(self._seconds) >= _CACHE_LIMIT:
            self._seconds.clear()
        seconds = float(calendar.timegm(moment.timetuple()))
        self._seconds[head] = seconds
        return seconds
