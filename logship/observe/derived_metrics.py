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
language, it plugs in where `_Metric._generate` emits the match tests: a compiled condition
becomes one `if not condition(entry): continue` line (a `when:` key beside or instead of `match:`).
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
from prometheus_client.utils import floatToGoString
from pydantic import Field, field_validator, model_validator

from logship.core.record import LogEntry, get_field, label_text
from logship.core.schema import StrictModel

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
    match: dict[str, Any] = Field(
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

    @field_validator("match")
    @classmethod
    def _match_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, want in value.items():
            options = want if isinstance(want, list) else [want]
            if not options or not all(isinstance(v, Scalar) for v in options):
                raise ValueError(
                    f"match.{path}: expected a value (text, number, true/false) or a list of "
                    f"values (got {want!r})"
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


def exposed_names(settings: DerivedMetricSettings) -> set[str]:
    """The names a metric takes on /metrics (the family and its samples, as prometheus-client
    counts them when it checks for duplicates)."""
    if settings.type == "counter":
        family = settings.name.removesuffix("_total")
        return {family, family + "_total", family + "_created"}
    family = settings.name
    return {family} | {family + s for s in ("_bucket", "_count", "_sum", "_created")}


def name_clashes(metrics: Sequence[DerivedMetricSettings]) -> list[str]:
    """Problems (for the config error) where two metrics would expose the same sample name."""
    problems = []
    seen: dict[str, int] = {}
    for index, metric in enumerate(metrics):
        for name in sorted(exposed_names(metric)):
            if name in seen and metrics[seen[name]].name != metric.name:
                problems.append(
                    f"metrics[{index}].name: {metric.name!r} clashes on /metrics with "
                    f"metrics[{seen[name]}].name {metrics[seen[name]].name!r} (both use {name}); "
                    f"rename one"
                )
            seen.setdefault(name, index)
    return problems


def _number(value: Any) -> float | None:
    """A finite-or-infinite number from a field value (ints, floats, numeric text), else None."""
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
    return None if math.isnan(number) else number


def _read(path: str) -> str:
    """Source of an expression reading one record field (`get_field` semantics, None when absent)."""
    if "." not in path:
        return f"entry.get({path!r})"  # what get_field does first, without the call
    return f"get_field(entry, {path!r})"


def _as_text(var: str) -> str:
    # str and int (status codes) inline; bool is not `int` by __class__, so it goes to text().
    return f"{var} if {var}.__class__ is str else str({var}) if {var}.__class__ is int else text({var})"


class _Metric:
    """State of one configured metric: its series by label values, and what it could not count.

    `observe` is generated per metric (like the parser rules' record builders): one loop over
    the chunk with the field reads, the match and the labels inlined. Measured: a counter with
    two labels plus a histogram with a match cost 0.5 µs per record together, against 3.1 µs for
    the same work through getter functions and generator expressions.
    """

    def __init__(self, settings: DerivedMetricSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.inputs = frozenset(settings.inputs)
        self.label_names = list(settings.labels)
        self.max_series = settings.max_series
        self.overflow_key = tuple(OVERFLOW for _ in self.label_names)
        self.overflowed = 0
        self.invalid = 0
        self._warned = False
        self.bounds = list(settings.buckets or [])
        self.le = [str(floatToGoString(b)) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        self.series: dict[tuple[str, ...], Any] = {}
        """counter: label values -> total; histogram: label values -> [per-bucket counts
        (not cumulative) ..., +Inf count, sum]."""
        self._observe = self._generate()

    def admit(self, key: tuple[str, ...]) -> tuple[str, ...]:
        """The series key for a label set not seen before: itself, or the overflow key when full."""
        if len(self.series) < self.max_series or key == self.overflow_key:
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
        """Counts one chunk of records (the caller holds the lock)."""
        self.invalid += self._observe(entries, self.series)

    def _generate(self) -> Callable[[list[LogEntry], dict[tuple[str, ...], Any]], int]:
        s = self.settings
        env: dict[str, Any] = {
            "get_field": get_field,
            "text": label_text,
            "number_of": _number,
            "admit": self.admit,
            "bisect": bisect.bisect_left,
            "bounds": self.bounds,
            "width": len(self.bounds) + 1,
        }
        body = ["def observe(entries, series):", "    bad = 0", "    for entry in entries:"]
        for i, (path, want) in enumerate(s.match.items()):
            options = want if isinstance(want, list) else [want]
            env[f"allowed_{i}"] = frozenset(label_text(v) for v in options)
            body += [
                f"        m = {_read(path)}",
                f"        if ({_as_text('m')}) not in allowed_{i}:",
                "            continue",
            ]
        if s.value is not None:
            body += [
                f"        raw = {_read(s.value)}",
                "        if raw is None:",
                "            continue",
                "        if raw.__class__ is int or (raw.__class__ is float and raw == raw):",
                "            number = raw",
                "        else:",
                "            number = number_of(raw)",
                "            if number is None:",
                "                bad += 1",
                "                continue",
            ]
            if s.type == "counter":
                body += ["        if number < 0:", "            bad += 1", "            continue"]
        labels = []
        for i, path in enumerate(s.labels.values()):
            body.append(f"        l{i} = {_read(path)}")
            labels.append(_as_text(f"l{i}"))
        body.append(f"        key = ({''.join(f'{x}, ' for x in labels)})")
        body += [
            "        state = series.get(key)",
            "        if state is None:",
            "            key = admit(key)",
            "            state = series.get(key)",
        ]
        if s.type == "counter":
            amount = "number" if s.value is not None else "1.0"
            body += [
                "            if state is None:",
                "                state = 0.0",
                f"        series[key] = state + {amount}",
            ]
        else:
            body += [
                "            if state is None:",
                "                state = series[key] = [0.0] * (width + 1)",
                "        state[bisect(bounds, number)] += 1",
                "        state[width] += number",
            ]
        body.append("    return bad")
        code = "\n".join(body)
        exec(compile(code, f"<metric {self.name}>", "exec"), env)  # noqa: S102 - our own generated code
        observe: Callable[[list[LogEntry], dict[tuple[str, ...], Any]], int] = env["observe"]
        return observe

    def family(self) -> Metric:
        """The metric family with every series now (the caller holds the lock)."""
        help_text = self.settings.help or f"Log-derived {self.settings.type} {self.name}."
        if self.settings.type == "counter":
            counter = CounterMetricFamily(self.name, help_text, labels=self.label_names)
            for key, total in self.series.items():
                counter.add_metric(list(key), total)
            return counter
        histogram = HistogramMetricFamily(self.name, help_text, labels=self.label_names)
        for key, state in self.series.items():
            cumulative = 0.0
            buckets = []
            for le, count in zip(self.le, state, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            histogram.add_metric(list(key), buckets, state[-1])
        return histogram


class DerivedMetrics:
    """Every configured log-derived metric: a RecordObserver for the tailer, a collector for /metrics."""

    def __init__(self, settings: Sequence[DerivedMetricSettings]) -> None:
        self._metrics = [_Metric(s) for s in settings]
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
