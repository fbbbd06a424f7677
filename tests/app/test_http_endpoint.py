"""The HTTP endpoint: /metrics during a real run, /readyz through a sink outage, /status, secrets."""

from __future__ import annotations

import http.client
import itertools
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from logship.app.agent import Agent
from logship.app.config_file import parse_config
from logship.app.pipeline import Pipeline, StartupError
from tests.doubles.es_server import EsServer
from tests.harness import REPO, AgentProcess, config_doc, count_lines, wait_until, write_config

RULE = {"name": "numbered", "regex": r"^line (?P<n>\d+) (?P<pad>.*)$", "types": {"n": "int"}}
PAD = "x" * 40


# --- helpers ----------------------------------------------------------------------------


def endpoint(agent: AgentProcess) -> str:
    """The agent's base URL, from its "HTTP endpoint listening." log line (port 0 = any free port)."""
    entry = agent.wait_for_log("HTTP endpoint listening.")
    return f"http://{entry['address']}"


def get(url: str, accept: str = "") -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET; 4xx/5xx are answers, not exceptions."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def get_json(url: str) -> tuple[int, Any]:
    status, body, _ = get(url)
    return status, orjson.loads(body)


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics: (sample name, labels) -> value."""
    status, body, _ = get(base + "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def append_lines(path: Path, start: int, count: int) -> None:
    with path.open("a") as f:
        f.write("".join(f"line {i} {PAD}\n" for i in range(start, start + count)))


def base_config(tmp_path: Path, sink: dict[str, Any], **extra: Any) -> dict[str, Any]:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return config_doc(
        tmp_path,
        agent={"http": {"address": "127.0.0.1:0"}},
        input={"parsers": ["numbered"], "max_line_bytes": 256},
        parsers=[RULE],
        sinks=[sink],
        **extra,
    )


# --- /metrics during an end-to-end run ------------------------------------------------------


def test_metrics_count_what_was_shipped_and_lag_is_zero_once_caught_up(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    out = tmp_path / "out" / "logs.ndjson"
    config = write_config(
        tmp_path / "agent.yaml",
        base_config(
            tmp_path,
            {"name": "out", "type": "file", "path": str(out), "batch": {"linger_ms": 20}},
        ),
    )
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 3000)
    with log.open("a") as f:
        f.write("not a numbered line\n" * 7)
        f.write("line 9999 " + "y" * 1000 + "\n")  # over max_line_bytes: cut and flagged
    agent = AgentProcess(config).start()
    agents.append(agent)
    base = endpoint(agent)
    append_lines(log, 3000, 2000)  # written while running
    total = 5000 + 7 + 1
    wait_until(lambda: count_lines(out) >= total, timeout=60, message="every line shipped")

    def caught_up() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        samples = scrape(base)
        lag = value(samples, "logship_file_lag_bytes", input="app", path=str(log))
        return (
            samples
            if lag == 0
            and ("logship_file_lag_bytes", frozenset({("input", "app"), ("path", str(log))}))
            in samples
            else None
        )

    samples = wait_until(caught_up, timeout=30, message="lag 0 on /metrics")
    size = log.stat().st_size
    assert value(samples, "logship_input_lines_total", input="app") == total
    assert value(samples, "logship_input_bytes_total", input="app") == size
    assert value(samples, "logship_parser_records_total", input="app", rule="numbered") == 5001
    assert value(samples, "logship_parser_unmatched_total", input="app") == 7
    assert value(samples, "logship_input_lines_truncated_total", input="app") == 1
    assert value(samples, "logship_sink_records_total", sink="out", outcome="delivered") == total
    assert value(samples, "logship_sink_records_total", sink="out", outcome="dead_lettered") == 0
    assert value(samples, "logship_sink_batches_total", sink="out", outcome="delivered") >= 1
    assert value(samples, "logship_sink_request_seconds_count", sink="out") >= 1
    assert value(samples, "logship_files_open") == 1
    assert value(samples, "logship_queue_events", sink="out") == 0
    assert value(samples, "logship_input_lag_bytes", input="app") == 0
    assert value(samples, "logship_file_unread_bytes", input="app", path=str(log)) == 0
    assert value(samples, "logship_sink_ready", sink="out") == 1
    assert value(samples, "logship_sink_last_delivery_timestamp_seconds", sink="out") > 0
    assert value(samples, "process_resident_memory_bytes") > 0

    status, doc = get_json(base + "/status")
    assert status == 200
    (entry,) = doc["files"]
    assert entry["path"] == str(log)
    assert entry["size"] == entry["acked_offset"] == entry["read_offset"] == size
    assert entry["lag_bytes"] == 0
    assert doc["inputs"][0]["lines_read"] == total
    assert doc["sinks"][0]["records"]["delivered"] == total
    assert doc["sinks"][0]["ready"] is True
    assert doc["live"] is True
    assert doc["ready"] is True
    assert get(base + "/healthz")[0] == 200
    assert get(base + "/readyz")[0] == 200
    assert agent.stop() == 0


# --- /readyz and /healthz through an outage -------------------------------------------------


@pytest.fixture
def server() -> Iterator[EsServer]:
    with EsServer() as srv:
        yield srv


def es_sink(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "es",
        "type": "elasticsearch",
        "hosts": [url],
        "request_timeout": "2s",
        "batch": {"max_events": 500, "linger_ms": 20},
        "queue": {"max_events": 500},
        "retry": {"initial_backoff": "50ms", "max_backoff": "300ms"},
        **extra,
    }


def test_readyz_is_not_ready_while_the_sink_is_down_and_ready_again_after(
    tmp_path: Path, agents: list[AgentProcess], server: EsServer
) -> None:
    doc = base_config(tmp_path, es_sink(server.url))
    doc["agent"]["http"]["stall_timeout"] = "500ms"
    doc["inputs"][0]["scan_interval"] = "200ms"
    config = write_config(tmp_path / "agent.yaml", doc)
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 1000)
    agent = AgentProcess(config).start()
    agents.append(agent)
    base = endpoint(agent)
    wait_until(lambda: server.state.count() >= 1000, timeout=60, message="first 1,000 indexed")
    wait_until(lambda: get(base + "/readyz")[0] == 200, timeout=30, message="ready")

    server.down()
    append_lines(log, 1000, 20_000)
    status, body = wait_until(
        lambda: (answer := get_json(base + "/readyz"))[0] == 503 and answer,
        timeout=60,
        message="not ready while Elasticsearch is down",
    )
    assert body["status"] == "not ready"
    (sink,) = [c for c in body["checks"] if c["component"] == "sink:es"]
    assert sink["ok"] is False
    assert sink["state"] in ("failing", "not_ready")
    assert sink["detail"]
    samples = scrape(base)
    assert value(samples, "logship_sink_ready", sink="es") == 0
    assert value(samples, "logship_file_lag_bytes", input="app", path=str(log)) > 0

    # The queue fills and the tailer blocks on it: longer than stall_timeout + scan_interval
    # without a scan. That is backpressure, not a wedged agent: /healthz stays 200.
    def held_back() -> tuple[int, Any] | None:
        answer = get_json(base + "/healthz")
        tailer = next(c for c in answer[1]["checks"] if c["component"] == "tailer")
        return answer if tailer["state"] == "backpressure" else None

    status, health = wait_until(held_back, timeout=60, message="tailer held back by the full queue")
    assert status == 200
    assert health["status"] == "ok"
    (worker,) = [c for c in health["checks"] if c["component"] == "sink:es"]
    assert worker["ok"] is True
    assert worker["state"] == "failing"

    server.up()
    wait_until(lambda: get(base + "/readyz")[0] == 200, timeout=60, message="ready again")
    wait_until(lambda: server.state.count() >= 21_000, timeout=120, message="everything indexed")
    wait_until(
        lambda: (
            value(scrape(base), "logship_file_lag_bytes", input="app", path=str(log)) == 0
            and get_json(base + "/status")[1]["files"][0]["lag_bytes"] == 0
        ),
        timeout=30,
        message="lag back to 0",
    )
    assert agent.stop() == 0
    assert server.state.count() == 21_000


# --- secrets ----------------------------------------------------------------------------------


def test_a_secret_from_the_environment_is_never_printed_nor_served(
    tmp_path: Path, agents: list[AgentProcess], server: EsServer
) -> None:
    secret = 'pw-Zq83"x-s3cret'  # a quote too: JSON escapes it in the self-log line
    # The cluster refuses the first documents with a reason that quotes the password: it lands
    # in the self-logs and in /status unless secret values are masked.
    calls = itertools.count()

    def fault(
        index: str, doc_id: str | None, doc: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        if next(calls) >= 150:
            return None
        return 429, {"type": "es_rejected_execution_exception", "reason": f"password {secret} busy"}

    server.state.item_fault = fault
    doc = base_config(
        tmp_path,
        es_sink(server.url, auth={"username": "agent", "password": "${LOGSHIP_TEST_PW}"}),
    )
    config = write_config(tmp_path / "agent.yaml", doc)
    append_lines(tmp_path / "logs" / "app.log", 0, 100)
    agent = AgentProcess(config, env={"LOGSHIP_TEST_PW": secret}).start()
    agents.append(agent)
    base = endpoint(agent)
    failing = agent.wait_for_log("Sink failing; retrying with backoff.", timeout=60)
    assert "password *** busy" in failing["reason"]
    for route in ("/status", "/healthz", "/readyz", "/metrics"):
        assert secret.encode() not in get(base + route)[1], route
    wait_until(
        lambda: server.state.count() >= 100, timeout=60, message="delivered after the faults"
    )
    status_doc = get_json(base + "/status")[1]
    assert "***" in status_doc["sinks"][0]["last_error"]
    assert secret.encode() not in get(base + "/status")[1]
    assert agent.stop() == 0
    stderr = agent.stderr_text()
    assert secret not in stderr
    assert orjson.dumps(secret).decode()[1:-1] not in stderr
    assert "x-s3cret" not in stderr


# --- the endpoint in process: routes, binding ---------------------------------------------------


def config_in(tmp_path: Path, http: dict[str, Any] | None) -> Any:
    doc = base_config(
        tmp_path, {"name": "out", "type": "file", "path": str(tmp_path / "out" / "o.ndjson")}
    )
    if http is None:
        del doc["agent"]["http"]
    else:
        doc["agent"]["http"] = http
    return parse_config(orjson.dumps(doc).decode(), "test", tmp_path)


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is taken for the duration of the test."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_the_endpoint_listens_on_localhost_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    default = config_in(tmp_path, None)
    assert default.agent.http.host_port == ("127.0.0.1", 9600)
    off = config_in(tmp_path, {"address": None})
    assert Pipeline(off).http is None


def test_a_configured_address_that_is_taken_stops_the_start(tmp_path: Path, held_port: int) -> None:
    pipeline = Pipeline(config_in(tmp_path, {"address": f"127.0.0.1:{held_port}"}))
    try:
        with pytest.raises(
            StartupError, match=r"agent\.http\.address: cannot listen on 127\.0\.0\.1"
        ):
            pipeline.open()
    finally:
        pipeline.release()


def test_the_default_address_taken_turns_the_endpoint_off_with_a_warning(
    tmp_path: Path, held_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(config_in(tmp_path, None))
    assert pipeline.http is not None
    pipeline.http.requested = ("127.0.0.1", held_port)  # stands for 9600 taken by another agent
    with caplog.at_level(logging.WARNING, logger="logship"):
        pipeline.open()
    pipeline.release()
    assert pipeline.http is None
    assert any(r.getMessage().startswith("HTTP endpoint off") for r in caplog.records)


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:", ":9600", "127.0.0.1:99999", "a:b"])
def test_a_bad_address_is_a_config_error_naming_the_key(tmp_path: Path, address: str) -> None:
    from logship.app.config_file import ConfigError

    with pytest.raises(ConfigError, match=r"agent\.http\.address: expected host:port"):
        config_in(tmp_path, {"address": address})


def test_routes_answer_in_process(tmp_path: Path) -> None:
    config = config_in(tmp_path, {"address": "127.0.0.1:0"})
    pipeline = Pipeline(config)
    agent = Agent(config, pipeline)
    pipeline.open()
    pipeline.start()
    assert pipeline.http is not None
    host, port = pipeline.http.address
    try:
        base = f"http://{host}:{port}"
        status, body, content_type = get(base + "/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        assert b"logship_build_info{" in body
        status, body, content_type = get(base + "/metrics", "application/openmetrics-text")
        assert content_type.startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n")
        status, body, _ = get(base + "/nope")
        assert status == 404
        assert b"/metrics" in body
        wait_until(lambda: get(base + "/readyz")[0] == 200, message="ready after the first scan")
        assert get_json(base + "/healthz")[1]["status"] == "ok"
    finally:
        agent.shutdown()
    with pytest.raises(OSError):  # stopped with the agent
        socket.create_connection((host, port), timeout=2).close()


def test_every_exposed_metric_is_in_the_metrics_reference(tmp_path: Path) -> None:
    doc = parse_config(
        orjson.dumps(
            {
                "agent": {"http": {"address": None}},
                "inputs": [{"name": "web", "paths": [str(tmp_path / "*.log")]}],
                "sinks": [{"name": "o", "type": "stdout"}],
                "metrics": [{"name": "my_counter", "type": "counter"}],
            }
        ).decode(),
        "test",
        tmp_path,
    )
    reference = (REPO / "docs" / "metrics.md").read_text()
    pipeline = Pipeline(doc)
    names = set()
    for family in pipeline.metrics.registry.collect():
        if family.name == "my_counter":
            continue
        suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
        names.add(family.name + suffix)
    missing = sorted(n for n in names if f"`{n}`" not in reference and n not in reference)
    assert not missing, f"not documented in docs/metrics.md: {missing}"
    assert len(names) > 30


def test_idle_connections_beyond_the_cap_are_dropped_and_the_endpoint_recovers(
    tmp_path: Path,
) -> None:
    from logship.app.http_endpoint import MAX_CONCURRENT

    config = config_in(tmp_path, {"address": "127.0.0.1:0"})
    pipeline = Pipeline(config)
    agent = Agent(config, pipeline)
    pipeline.open()
    pipeline.start()
    assert pipeline.http is not None
    host, port = pipeline.http.address
    idle = []
    try:
        for _ in range(MAX_CONCURRENT):  # connected, never sending a request
            idle.append(socket.create_connection((host, port), timeout=10))
        # Accepted in order: by the time the next one is, every slot is taken.
        extra = socket.create_connection((host, port), timeout=10)
        assert extra.recv(100) == b"", "a connection beyond the cap is closed at once"
        extra.close()
        for sock in idle:
            sock.close()
        idle.clear()

        def healthy() -> bool:
            try:
                return get(f"http://{host}:{port}/healthz")[0] == 200
            except (ConnectionError, http.client.HTTPException):
                # The handlers have not yet seen their clients go: still beyond the cap.
                return False

        wait_until(healthy, message="recovered")
    finally:
        for sock in idle:
            sock.close()
        agent.shutdown()
