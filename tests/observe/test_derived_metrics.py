"""Log-derived metrics: counters and histograms over record fields, bounded label cardinality."""

from __future__ import annotations

import random
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from logship.app.config_file import ConfigError, parse_config
from logship.observe.derived_metrics import OVERFLOW, DerivedMetrics, DerivedMetricSettings
from tests.harness import AgentProcess, count_lines, wait_until, write_config

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def settings(**values: Any) -> DerivedMetricSettings:
    return DerivedMetricSettings.model_validate(values)


def samples_of(derived: DerivedMetrics) -> Samples:
    registry = CollectorRegistry()
    registry.register(derived)
    out: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


def test_a_counter_counts_records_by_label_values_and_applies_match() -> None:
    derived = DerivedMetrics(
        [
            settings(
                name="requests",
                type="counter",
                labels={"status": "http.response.status_code", "method": "method"},
                match={"service": ["web", "api"]},
            )
        ]
    )
    entries = [
        {"service": "web", "method": "GET", "http": {"response": {"status_code": 200}}},
        {"service": "api", "method": "GET", "http": {"response": {"status_code": 200}}},
        {"service": "api", "method": "POST", "http.response.status_code": 500},  # flat dotted key
        {"service": "db", "method": "GET", "http": {"response": {"status_code": 200}}},  # no match
        {"service": "web", "method": "GET"},  # no status: label is empty
    ]
    derived.observe("any", entries[:2])
    derived.observe("any", entries[2:])
    got = samples_of(derived)
    assert got[key("requests_total", status="200", method="GET")] == 2
    assert got[key("requests_total", status="500", method="POST")] == 1
    assert got[key("requests_total", status="", method="GET")] == 1
    assert sum(v for (name, _), v in got.items() if name == "requests_total") == 4


def test_match_compares_values_as_text_so_yaml_types_do_not_matter() -> None:
    derived = DerivedMetrics(
        [settings(name="errors", type="counter", match={"status": 500, "ok": False})]
    )
    derived.observe(
        "x", [{"status": 500, "ok": False}, {"status": "500", "ok": "false"}, {"status": 200}]
    )
    assert samples_of(derived)[key("errors_total")] == 2


def test_a_counter_with_a_value_field_adds_it_and_counts_what_it_cannot_add() -> None:
    derived = DerivedMetrics([settings(name="bytes_sent", type="counter", value="bytes")])
    derived.observe("x", [{"bytes": 100}, {"bytes": "50"}, {"bytes": "n/a"}, {"bytes": -5}, {}])
    got = samples_of(derived)
    assert got[key("bytes_sent_total")] == 150
    assert got[key("logship_derived_invalid_values_total", metric="bytes_sent")] == 2


def test_a_histogram_puts_values_in_le_buckets_with_sum_and_count() -> None:
    derived = DerivedMetrics(
        [
            settings(
                name="response_bytes",
                type="histogram",
                value="bytes",
                buckets=[100, 1000],
                labels={"method": "method"},
            )
        ]
    )
    values = [0, 100, 101, 1000, 5000, 7.5]
    derived.observe("x", [{"bytes": v, "method": "GET"} for v in values] + [{"method": "GET"}])
    got = samples_of(derived)
    assert got[key("response_bytes_bucket", method="GET", le="100.0")] == 3  # 0, 100, 7.5
    assert got[key("response_bytes_bucket", method="GET", le="1000.0")] == 5
    assert got[key("response_bytes_bucket", method="GET", le="+Inf")] == 6
    assert got[key("response_bytes_count", method="GET")] == 6
    assert got[key("response_bytes_sum", method="GET")] == sum(values)


def test_inputs_limit_a_metric_to_some_inputs() -> None:
    derived = DerivedMetrics([settings(name="web_lines", type="counter", inputs=["web"])])
    derived.observe("web", [{}, {}])
    derived.observe("app", [{}, {}, {}])
    assert samples_of(derived)[key("web_lines_total")] == 2


def test_label_sets_beyond_max_series_go_to_the_overflow_series_and_are_counted() -> None:
    derived = DerivedMetrics(
        [settings(name="by_user", type="counter", labels={"user": "user"}, max_series=3)]
    )
    derived.observe("x", [{"user": f"u{i % 10}"} for i in range(100)])
    got = samples_of(derived)
    series = {labels: v for (name, labels), v in got.items() if name == "by_user_total"}
    assert len(series) == 4  # three real label sets and the overflow series
    assert sum(series.values()) == 100  # totals stay right
    assert got[key("by_user_total", user=OVERFLOW)] == 70
    assert got[key("logship_derived_overflow_records_total", metric="by_user")] == 70
    derived.observe("x", [{"user": "u0"}])  # a known label set still counts as itself
    assert samples_of(derived)[key("by_user_total", user="u0")] == 11


def config_error(metric: dict[str, Any], **top: Any) -> str:
    doc = {
        "inputs": [{"name": "web", "paths": ["/tmp/none/*.log"]}],
        "sinks": [{"name": "o", "type": "stdout"}],
        "metrics": [metric],
        **top,
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(orjson.dumps(doc).decode(), "test.yaml", Path("/tmp"))
    return str(caught.value)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (
            {"name": "h", "type": "histogram", "buckets": [1]},
            "metrics[0] (h): a histogram needs `value`",
        ),
        ({"name": "h", "type": "histogram", "value": "b"}, "a histogram needs `buckets`"),
        (
            {"name": "h", "type": "histogram", "value": "b", "buckets": [10, 5]},
            "buckets: expected finite, strictly increasing numbers",
        ),
        ({"name": "c", "type": "counter", "buckets": [1]}, "buckets are for histograms"),
        ({"name": "logship_lines", "type": "counter"}, "are the agent's own"),
        (
            {"name": "bad-name", "type": "counter"},
            "metrics[0].name (bad-name): expected text matching",
        ),
        (
            {"name": "c", "type": "gauge"},
            "metrics[0].type (c): expected one of: 'counter' or 'histogram'",
        ),
        (
            {"name": "c", "type": "counter", "labels": {"__x": "f"}},
            "expected a Prometheus label name",
        ),
        (
            {"name": "c", "type": "counter", "inputs": ["nope"]},
            "metrics[0].inputs[0]: unknown input 'nope'",
        ),
        (
            {"name": "c", "type": "counter", "max_series": 0},
            "metrics[0].max_series (c): expected a value greater than or equal to 1",
        ),
        (
            {"name": "c", "type": "counter", "lables": {}},
            "metrics[0].lables (c): unknown key (did you mean 'labels'?)",
        ),
    ],
)
def test_bad_metric_definitions_are_config_errors_naming_the_key(
    metric: dict[str, Any], expected: str
) -> None:
    assert expected in config_error(metric)


def test_two_metrics_with_one_name_are_a_config_error() -> None:
    message = config_error(
        {"name": "c", "type": "counter"},
        metrics=[{"name": "c", "type": "counter"}, {"name": "c", "type": "counter"}],
    )
    assert "metrics[1].name: 'c' is used twice" in message


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"name": "hits", "type": "counter"}, {"name": "hits_total", "type": "counter"}),
        (
            {"name": "lat", "type": "histogram", "value": "v", "buckets": [1]},
            {"name": "lat_count", "type": "counter"},
        ),
    ],
)
def test_metrics_whose_exposed_names_clash_are_a_config_error(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    message = config_error(first, metrics=[first, second])
    assert (
        f"metrics[1].name: {second['name']!r} clashes on /metrics with metrics[0].name" in message
    )


def test_the_agent_exposes_log_derived_metrics_counting_what_was_written(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "out.ndjson"
    config = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {
                "data_dir": str(tmp_path / "data"),
                "http": {"address": "127.0.0.1:0"},
                "workers": 1,  # one process: its /metrics carry no worker label
            },
            "inputs": [
                {
                    "name": "web",
                    "paths": [str(logs / "web.log")],
                    "parsers": ["access"],
                    "poll_interval": "50ms",
                },
                {
                    "name": "other",
                    "paths": [str(logs / "other.log")],
                    "parsers": ["access"],
                    "poll_interval": "50ms",
                },
            ],
            "parsers": [
                {
                    "name": "access",
                    "regex": r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<bytes>\d+)$",
                    "types": {"status": "int", "bytes": "int"},
                }
            ],
            "sinks": [
                {"name": "out", "type": "file", "path": str(out), "batch": {"linger_ms": 20}}
            ],
            "metrics": [
                {
                    "name": "web_requests",
                    "type": "counter",
                    "help": "Requests by status and method.",
                    "inputs": ["web"],
                    "labels": {"status": "status", "method": "method"},
                },
                {
                    "name": "web_get_bytes",
                    "type": "histogram",
                    "inputs": ["web"],
                    "match": {"method": "GET"},
                    "value": "bytes",
                    "buckets": [1000, 10000],
                },
            ],
        },
    )
    rng = random.Random(7)
    lines = [
        (rng.choice(["GET", "POST"]), rng.choice([200, 200, 404, 500]), rng.randrange(0, 20000))
        for _ in range(5000)
    ]
    (logs / "web.log").write_text("".join(f"{m} /p {s} {b}\n" for m, s, b in lines))
    (logs / "other.log").write_text("GET /p 200 1\n" * 300)  # another input: not counted
    agent = AgentProcess(config).start()
    agents.append(agent)
    entry = agent.wait_for_log("HTTP endpoint listening.")
    wait_until(lambda: count_lines(out) >= 5300, timeout=60, message="every line shipped")
    with urllib.request.urlopen(f"http://{entry['address']}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    got: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            got[(sample.name, frozenset(sample.labels.items()))] = sample.value
    expected = Counter((str(s), m) for m, s, _ in lines)
    for (status, method), n in expected.items():
        assert got[key("web_requests_total", status=status, method=method)] == n
    assert sum(v for (name, _), v in got.items() if name == "web_requests_total") == 5000
    gets = [b for m, _, b in lines if m == "GET"]
    assert got[key("web_get_bytes_bucket", le="1000.0")] == sum(b <= 1000 for b in gets)
    assert got[key("web_get_bytes_bucket", le="10000.0")] == sum(b <= 10000 for b in gets)
    assert got[key("web_get_bytes_count")] == len(gets)
    assert got[key("web_get_bytes_sum")] == sum(gets)
    assert "# HELP web_requests_total Requests by status and method." in text
    assert agent.stop() == 0
