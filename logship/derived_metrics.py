"""Log-derived metrics: counters and histograms over parsed record fields, declared in config.

    metrics:
      - name: http_requests            # exposed as http_requests_total
        type: counter
        inputs: [web]                  # default: every input
        match: {http_method: GET}      # every key must equal (one of) its value(s)
        labels: {status: status}       # label name -> record field (dotted paths work)
      - name: http_response_bytes
        type: histogram
        value: bytes
        buckets: [100, 1000, 10000, 100000]

They are computed on the tailer thread, once per chunk of parsed records (a `RecordObserver`),
and exposed on /metrics by a collector that copies the current values under a lock.

Cardinality is bounded per metric by `max_series`: once a metric has that many label sets, a
record with a new label set is counted in one extra series whose every label is `__overflow__`
(so totals stay right), and `logship_derived_overflow_records_total{metric}` counts it. Series
are never expired: a counter must not go back.

The `match:` filter is plain equality on purpose. When parser rules get their condition
language, `_Matcher` is the seam: it becomes whatever callable that language compiles to.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from pydantic import Field, field_validator, model_validator

from logship.record import LogEntry, get_field
from logship.schema import StrictModel

log = logging.getLogger(__name__)

OVERFLOW = "__overflow__"
"""The label value of the series that collects records beyond `max_series`."""

_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_RESERVED_PREFIXES = ("logship_", "process_", "python_")
Scalar = str | int | float | bool


class DerivedMetricSettings(StrictModel):
    """One entry of the top-level `metrics:` section."""

    name: str = Field(pattern=_NAME)
    type: Literal["counter", "histogram"]
    help: str = ""
    inputs: list[str] = Field(default=[], json_schema_extra={"expected": "a list of input names"})
    match: dict[str, Scalar | list[Scalar]] = Field(
        default={}, json_schema_extra={"expected": "a mapping of field: value"}
    )
    labels: dict[str, str] = Field(
        default={}, json_schema_extra={"expected": "a mapping of label name: record field"}
    )
    value: str | None = Field(default=None, min_length=1)
    buckets: list[float] | None = None
    max_series: int = Field(1000, ge=1, le=100_000)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith(_RESERVED_PREFIXES):
            raise ValueError(
                f"names starting with {', '.join(_RESERVED_PREFIXES)} are the agent's own; "
                f"choose another name (got {value!r})"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for label, path in value.items():
            if not re.match(_NAME, label) or label.startswith("__"):
                raise ValueError(
                    f"label {label!r}: expected a Prometheus label name (letters, digits, _; "
                    f"not starting with __)"
                )
            if not path:
                raise ValueError(f"label {label!r}: expected a record field name")
        return value

    @model_validator(mode="after")
    def _type_fits(self) -> DerivedMetricSettings:
        if self.type == "histogram":
            if self.value is None:
                raise ValueError(
                    "a histogram needs `value`: the record field to observe, like value: bytes"
                )
            if not self.buckets:
                raise ValueError(
                    "a histogram needs `buckets`: increasing upper bounds in the unit of the "
                    "field, like buckets: [100, 1000, 10000]"
                )
            if any(not math.isfinite(b) for b in self.buckets) or any(
                a >= b for a, b in zip(self.buckets, self.buckets[1:], strict=False)
            ):
                raise ValueError(
                    f"buckets: expected finite, strictly increasing numbers (got {self.buckets})"
                )
            if "le" in self.labels:
                raise ValueError("label 'le' is reserved for histogram buckets; rename it")
        elif self.buckets is not None:
            raise ValueError("buckets are for histograms; a counter has none")
        return self


def _text(value: Any) -> str:
    """A field value as a label value (and for `match:` comparisons): `true`, `200`, `GET`."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)


def _getter(path: str) -> Callable[[LogEntry], Any]:
    """Reads one field; a plain name is one dict lookup (what `get_field` does first anyway)."""
    if "." not in path:
        return lambda entry: entry.get(path)
    return lambda entry: get_field(entry, path)


def _number(value: Any) -> float | None:
    """A finite number from a field value (ints, floats, numeric text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if not math.isnan(number) else None


class _Matcher:
    """The `match:` filter: every field equals one of its values (compared as label text)."""

    def __init__(self, match: dict[str, Scalar | list[Scalar]]) -> None:
        self.tests = [
            (
                _getter(path),
                frozenset(_text(v) for v in (want if isinstance(want, list) else [want])),
            )
            for path, want in match.items()
        ]

    def __call__(self, entry: LogEntry) -> bool:
        return all(_text(get(entry)) in allowed for get, allowed in self.tests)


class _Metric:
    """State of one configured metric: its series by label values, and what it could not count."""

    def __init__(self, settings: DerivedMetricSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.inputs = frozenset(settings.inputs)
        self.label_names = list(settings.labels)
        self.label_getters = [_getter(path) for path in settings.labels.values()]
        self.matcher = _Matcher(settings.match) if settings.match else None
        self.value_getter = _getter(settings.value) if settings.value else None
        self.max_series = settings.max_series
        self.overflow_key = tuple(OVERFLOW for _ in self.label_names)
        self.overflowed = 0
        self.invalid = 0
        self._warned = False

    def _key(self, entry: LogEntry, series: dict[tuple[str, ...], Any]) -> tuple[str, ...] | None:
        key = tuple(_text(get(entry)) for get in self.label_getters)
        if key in series or len(series) < self.max_series:
            return key
        self.overflowed += 1
        if not self._warned:
            self._warned = True
            log.warning(
                "A log-derived metric reached max_series; new label values are counted under "
                f"{OVERFLOW}.",
                extra={"metric": self.name, "max_series": self.max_series},
            )
        return self.overflow_key

    def observe(self, entries: list[LogEntry]) -> None:
        """Counts one chunk of records."""
        raise NotImplementedError

    def family(self) -> Metric:
        """The metric family with every series now (the caller holds the lock)."""
        raise NotImplementedError


class _Counter(_Metric):
    def __init__(self, settings: DerivedMetricSettings) -> None:
        super().__init__(settings)
        self.series: dict[tuple[str, ...], float] = {}

    def observe(self, entries: list[LogEntry]) -> None:
        series = self.series
        matcher = self.matcher
        value_of = self.value_getter
        labels = bool(self.label_getters)
        for entry in entries:
            if matcher is not None and not matcher(entry):
                continue
            amount = 1.0
            if value_of is not None:
                raw = value_of(entry)
                if raw is None:
                    continue
                number = _number(raw)
                if number is None or number < 0:
                    self.invalid += 1
                    continue
                amount = number
            key = self._key(entry, series) if labels else ()
            if key is not None:
                series[key] = series.get(key, 0.0) + amount

    def family(self) -> Metric:
        family = CounterMetricFamily(
            self.name, self.settings.help or self.name, labels=self.label_names
        )
        for key, value in self.series.items():
            family.add_metric(list(key), value)
        return family


class _Histogram(_Metric):
    def __init__(self, settings: DerivedMetricSettings) -> None:
        super().__init__(settings)
        self.bounds = list(settings.buckets or [])
        self.le = [_format_bound(b) for b in self.bounds] + ["+Inf"]
        # per series: [count in each bucket (not cumulative) ..., +Inf bucket, sum]
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, entries: list[LogEntry]) -> None:
        series = self.series
        matcher = self.matcher
        value_of = self.value_getter
        assert value_of is not None  # checked by the settings
        bounds = self.bounds
        width = len(bounds) + 1
        labels = bool(self.label_getters)
        for entry in entries:
            if matcher is not None and not matcher(entry):
                continue
            raw = value_of(entry)
            if raw is None:
                continue
            number = _number(raw)
            if number is None:
                self.invalid += 1
                continue
            key = self._key(entry, series) if labels else ()
            if key is None:
                continue
            state = series.get(key)
            if state is None:
                state = series[key] = [0.0] * (width + 1)
            state[bisect.bisect_left(bounds, number)] += 1
            state[width] += number

    def family(self) -> Metric:
        family = HistogramMetricFamily(
            self.name, self.settings.help or self.name, labels=self.label_names
        )
        for key, state in self.series.items():
            cumulative = 0.0
            buckets = []
            for le, count in zip(self.le, state, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(key), buckets, state[-1])
        return family


def _format_bound(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else repr(bound)


class DerivedMetrics:
    """Every configured log-derived metric: a RecordObserver for the tailer, a collector for /metrics."""

    def __init__(self, settings: Sequence[DerivedMetricSettings]) -> None:
        self._metrics: list[_Metric] = [
            _Counter(s) if s.type == "counter" else _Histogram(s) for s in settings
        ]
        self._by_input: dict[str, list[_Metric]] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._metrics)

    def _for_input(self, input_name: str) -> list[_Metric]:
        metrics = self._by_input.get(input_name)
        if metrics is None:
            metrics = [m for m in self._metrics if not m.inputs or input_name in m.inputs]
            self._by_input[input_name] = metrics
        return metrics

    def observe(self, input_name: str, entries: list[LogEntry]) -> None:
        """Counts one chunk of one input's records (RecordObserver; on the tailer thread)."""
        metrics = self._for_input(input_name)
        if not metrics or not entries:
            return
        with self._lock:
            for metric in metrics:
                metric.observe(entries)

    def collect(self) -> Iterator[Metric]:
        """Families for the exposition: every configured metric, then overflow and invalid counts."""
        overflow = CounterMetricFamily(
            "logship_derived_overflow_records",
            "Records counted under the __overflow__ series because the metric reached max_series.",
            labels=["metric"],
        )
        invalid = CounterMetricFamily(
            "logship_derived_invalid_values",
            "Records whose value field was not a number (or negative, for a counter); not counted.",
            labels=["metric"],
        )
        with self._lock:
            families = [m.family() for m in self._metrics]
            for m in self._metrics:
                overflow.add_metric([m.name], m.overflowed)
                invalid.add_metric([m.name], m.invalid)
        yield from families
        yield overflow
        yield invalid

    def describe(self) -> Iterator[Metric]:
        """The families' names, without computing anything (for registry name checks)."""
        with self._lock:
            families = [m.family() for m in self._metrics]
        for family in families:
            family.samples = []
            yield family
        yield CounterMetricFamily("logship_derived_overflow_records", "", labels=["metric"])
        yield CounterMetricFamily("logship_derived_invalid_values", "", labels=["metric"])
