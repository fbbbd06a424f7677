"""A spool absorbing an outage, seen from outside: /readyz stays ready, /metrics shows the spool,
and the file's checkpoint moves on while Elasticsearch is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_http_endpoint import (
    append_lines,
    base_config,
    endpoint,
    es_sink,
    get_json,
    scrape,
    value,
)
from tests.doubles.es_server import EsServer
from tests.harness import AgentProcess, wait_until, write_config


@pytest.fixture
def es() -> Iterator[EsServer]:
    with EsServer() as srv:
        yield srv


def test_readyz_stays_ready_and_checkpoints_move_on_while_a_spool_absorbs_the_outage(
    tmp_path: Path, agents: list[AgentProcess], es: EsServer
) -> None:
    doc = base_config(tmp_path, es_sink(es.url, spool={"max_bytes": "64MiB"}))
    doc["agent"]["workers"] = 1
    config = write_config(tmp_path / "agent.yaml", doc)
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 500)
    agent = AgentProcess(config).start()
    agents.append(agent)
    base = endpoint(agent)
    wait_until(lambda: es.state.count() >= 500, timeout=60, message="first 500 indexed")

    es.down()
    append_lines(log, 500, 5000)

    def absorbed() -> bool:
        samples = scrape(base)
        return (
            value(samples, "logship_spool_records", sink="es") > 0
            and value(samples, "logship_file_lag_bytes", input="app", path=str(log)) == 0
        )

    # Every line is acknowledged (spooled, fsynced) while Elasticsearch is still down.
    wait_until(absorbed, timeout=60, message="the outage absorbed by the spool")
    status, body = get_json(base + "/readyz")
    assert status == 200, body
    (sink,) = [c for c in body["checks"] if c["component"] == "sink:es"]
    assert sink["state"] == "spooling"
    samples = scrape(base)
    assert value(samples, "logship_spool_bytes", sink="es") > 0
    assert value(samples, "logship_spool_records_written_total", sink="es") > 0
    assert value(samples, "logship_sink_ready", sink="es") == 1
    assert get_json(base + "/status")[1]["sinks"][0]["spool"]["spooling"] is True

    es.up()
    wait_until(lambda: es.state.count() >= 5500, timeout=60, message="the spool drained")
    wait_until(
        lambda: value(scrape(base), "logship_spool_records", sink="es") == 0,
        timeout=30,
        message="the spool empty",
    )
    assert agent.stop() == 0
    assert es.state.count() == 5500
