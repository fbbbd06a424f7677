"""Reading an agent's HTTP endpoint from a test: its address, /metrics samples, JSON routes."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import AgentProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def base_url(agent: AgentProcess, timeout: float = 60.0) -> str:
    """The agent's base URL, from its "HTTP endpoint listening." self-log (port 0 = any free port)."""
    entry = agent.wait_for_log("HTTP endpoint listening.", timeout=timeout)
    return f"http://{entry['address']}"


def get(url: str) -> tuple[int, bytes]:
    """(status, body) of a GET; 4xx/5xx are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> Any:
    """The JSON body of a GET."""
    return orjson.loads(get(url)[1])


def scrape(base: str) -> Samples:
    """Every sample of /metrics: (sample name, labels) -> value."""
    status, body = get(base + "/metrics")
    assert status == 200, body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
