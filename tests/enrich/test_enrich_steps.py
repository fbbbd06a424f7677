"""The enrichment steps one by one, their config, the agent's wiring (databases, metrics,
reload) and the hook that `run` and `parse` share."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.app.config_file import ConfigError, parse_config
from logship.app.enrich_wiring import attach_enrichment, build_enrichment, open_database
from logship.app.pipeline import Pipeline
from logship.app.preflight import problems
from logship.core.lines import Lines
from logship.core.metrics import Metrics, current_value
from logship.state.data_dir import StartupError
from logship.tail.stages import parse_events
from parsers.chain import build_chains
from parsers.enrich import EnrichStepSettings, StepCounts
from parsers.enrich.geoip import GeoipStep
from parsers.enrich.url import UrlStep, url_parts
from parsers.enrich.user_agent import UserAgentStep
from tests.enrich.conftest import ASN_DB, CITY_DB

FIREFOX = "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"
LINE = (
    '89.160.20.112 - - [07/Dec/2016:11:05:07 +0100] "GET /shop/cart.php?id=7#top HTTP/1.1" '
    f'200 571 "-" "{FIREFOX}"'
)


def config_text(tmp_path: Path, enrich: str) -> str:
    return f"""
agent: {{data_dir: {tmp_path / "data"}}}
inputs:
  - name: web
    paths: ["{tmp_path}/*.log"]
    parsers: [nginx_access]
    enrich: {enrich}
sinks:
  - {{name: out, type: file, path: {tmp_path / "out.ndjson"}}}
"""


def geo_enrich(city: Path = CITY_DB, asn: Path = ASN_DB) -> str:
    return f"[user_agent, url, {{geoip: {{city_db: {city}, asn_db: {asn}}}}}]"


def config_problems(tmp_path: Path, enrich: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(config_text(tmp_path, enrich), "t.yaml", tmp_path, {})
    return info.value.problems


def step(name: str, **settings: Any) -> Any:
    return getattr(EnrichStepSettings.model_validate({name: settings}), name)


def run_step(s: Any, *entries: dict[str, Any]) -> tuple[list[dict[str, Any]], StepCounts]:
    counts = StepCounts()
    batch = list(entries)
    s.apply(batch, counts)
    return batch, counts


def test_user_agent_gets_ecs_name_version_os_and_device() -> None:
    (rec,), counts = run_step(
        UserAgentStep(step("user_agent")), {"user_agent": {"original": FIREFOX}}
    )
    assert rec["user_agent"] == {
        "original": FIREFOX,
        "name": "Firefox Alpha",
        "version": "15.0.a2",
        "os": {"name": "Windows", "version": "7", "full": "Windows 7"},
        "device": {"name": "Other"},
    }
    assert (counts.enriched, counts.missed, counts.failed) == (1, 0, 0)


def test_an_unknown_user_agent_is_other_without_version_or_os() -> None:
    (rec,), _ = run_step(
        UserAgentStep(step("user_agent")), {"user_agent": {"original": "Amazon CloudFront"}}
    )
    assert rec["user_agent"] == {
        "original": "Amazon CloudFront",
        "name": "Other",
        "device": {"name": "Other"},
    }


def test_user_agent_results_are_cached_by_string_and_records_share_no_objects() -> None:
    ua = UserAgentStep(step("user_agent", cache_size=2))
    batch, _ = run_step(ua, *({"user_agent": {"original": FIREFOX}} for _ in range(3)))
    assert ua.lookup.cache_info().misses == 1
    assert ua.lookup.cache_info().hits == 2
    batch[0]["user_agent"]["os"]["name"] = "changed"
    assert batch[1]["user_agent"]["os"]["name"] == "Windows"


def test_a_record_without_a_user_agent_is_counted_as_missed_and_left_alone() -> None:
    (rec,), counts = run_step(UserAgentStep(step("user_agent")), {"message": "x"})
    assert rec == {"message": "x"}
    assert counts.missed == 1


def test_geoip_adds_geo_and_as_beside_the_address() -> None:
    geo = GeoipStep(
        step("geoip", city_db=str(CITY_DB), asn_db=str(ASN_DB)),
        open_database(CITY_DB),
        open_database(ASN_DB),
    )
    (rec,), counts = run_step(geo, {"source": {"ip": "89.160.20.112"}})
    assert rec["source"]["geo"] == {
        "continent_name": "Europe",
        "continent_code": "EU",
        "country_iso_code": "SE",
        "country_name": "Sweden",
        "region_iso_code": "SE-E",
        "region_name": "Östergötland County",
        "city_name": "Linköping",
        "location": {"lat": 58.4167, "lon": 15.6167},
    }
    assert rec["source"]["as"] == {"number": 29518, "organization": {"name": "Bredband2 AB"}}
    assert counts.enriched == 1


@pytest.mark.parametrize(
    ("address", "outcome"),
    [
        ("10.1.2.3", "missed"),
        ("127.0.0.1", "missed"),
        ("::1", "missed"),
        ("fe80::1", "missed"),
        ("8.8.8.8", "missed"),
        ("not-an-ip", "failed"),
        ("999.1.1.1", "failed"),
    ],
)
def test_geoip_skips_private_and_unknown_addresses_and_counts_invalid_ones(
    address: str, outcome: str
) -> None:
    geo = GeoipStep(step("geoip", city_db=str(CITY_DB)), open_database(CITY_DB), None)
    (rec,), counts = run_step(geo, {"source": {"ip": address}})
    assert rec == {"source": {"ip": address}}
    assert getattr(counts, outcome) == 1


def test_geoip_reads_a_configured_field_and_writes_beside_it() -> None:
    geo = GeoipStep(
        step("geoip", field="client.ip", city_db=str(CITY_DB)), open_database(CITY_DB), None
    )
    (rec,), _ = run_step(geo, {"client": {"ip": "81.2.69.160"}})
    assert rec["client"]["geo"]["country_iso_code"] == "GB"


@pytest.mark.parametrize(
    ("original", "parts"),
    [
        ("/ocelot", {"path": "/ocelot"}),
        ("/assets/xxxx?q=100", {"path": "/assets/xxxx", "query": "q=100"}),
        (
            "/a/b.tar.gz?x=1#frag",
            {"path": "/a/b.tar.gz", "query": "x=1", "fragment": "frag", "extension": "gz"},
        ),
        ("/A%20B/c%20d.mp4", {"path": "/A B/c d.mp4", "extension": "mp4"}),
        ("/v1.2/users", {"path": "/v1.2/users"}),
        ("/?", {"path": "/", "query": ""}),
        (
            "https://user@www.example.com:8443/x.png?s=1",
            {
                "scheme": "https",
                "domain": "www.example.com",
                "port": 8443,
                "path": "/x.png",
                "query": "s=1",
                "extension": "png",
            },
        ),
        ("http://example.com", {"scheme": "http", "domain": "example.com", "path": ""}),
    ],
)
def test_url_parts_are_those_of_uri_parts(original: str, parts: dict[str, Any]) -> None:
    assert url_parts(original) == parts


@pytest.mark.parametrize("original", ["/a b", "/x|y", "/bad%zz", "/a#b#c", "/q?{x}"])
def test_a_target_that_is_not_a_uri_gets_no_parts_and_is_counted_as_failed(original: str) -> None:
    (rec,), counts = run_step(UrlStep(step("url")), {"url": {"original": original}})
    assert rec == {"url": {"original": original}}
    assert counts.failed == 1


def test_steps_are_named_alone_or_with_settings(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path, geo_enrich()), "t.yaml", tmp_path, {})
    assert [s.name for s in config.inputs[0].enrich] == ["user_agent", "url", "geoip"]


@pytest.mark.parametrize(
    ("enrich", "message"),
    [
        ("[useragent]", "inputs[0].enrich[0] (web): unknown enrichment step 'useragent'"),
        ("[geoip]", "inputs[0].enrich[0].geoip (web): expected city_db and/or asn_db"),
        ("[{url: {}, user_agent: {}}]", "inputs[0].enrich[0] (web): expected one step per entry"),
        ("[{geoip: {city_db: x.mmdb, cty: 1}}]", "inputs[0].enrich[0].geoip.cty"),
    ],
)
def test_a_bad_step_is_a_config_error_naming_the_key(
    tmp_path: Path, enrich: str, message: str
) -> None:
    found = config_problems(tmp_path, enrich)
    assert any(p.startswith(message) for p in found), found


def test_a_missing_or_unreadable_database_stops_the_start_and_check_naming_the_key(
    tmp_path: Path,
) -> None:
    not_a_db = tmp_path / "junk.mmdb"
    not_a_db.write_bytes(b"not a database")
    text = config_text(tmp_path, geo_enrich(city=tmp_path / "missing.mmdb", asn=not_a_db))
    config = parse_config(text, "t.yaml", tmp_path, {})
    found = [p.message for p in problems(config)]
    assert any(
        m.startswith("inputs[0].enrich[2].geoip.city_db: cannot read") and "missing.mmdb" in m
        for m in found
    ), found
    assert any(m.startswith("inputs[0].enrich[2].geoip.asn_db: cannot read") for m in found), found
    with pytest.raises(StartupError, match=r"inputs\[0\]\.enrich\[2\]\.geoip\.city_db"):
        Pipeline(config)


def test_a_city_database_where_an_asn_one_belongs_is_refused(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path, geo_enrich(asn=CITY_DB)), "t.yaml", tmp_path, {})
    with pytest.raises(
        StartupError, match=r"geoip\.asn_db: .* is a GeoLite2-City database; expected a ASN"
    ):
        build_enrichment(0, config.inputs[0])


def test_parse_events_enriches_what_run_and_parse_ship_and_counts_per_step(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path, geo_enrich()), "t.yaml", tmp_path, {})
    metrics = Metrics()
    chain = attach_enrichment(config, build_chains(config), metrics)["web"]
    lines = Lines(
        [LINE, LINE.replace("89.160.20.112", "10.0.0.1")], [0, len(LINE) + 1], 2 * len(LINE) + 2, []
    )
    entries, _ = parse_events(chain, lines, {"path": "/x"}, None)
    assert entries[0]["user_agent"]["name"] == "Firefox Alpha"
    assert entries[0]["url"]["extension"] == "php"
    assert entries[0]["source"]["geo"]["city_name"] == "Linköping"
    assert "geo" not in entries[1]["source"]

    def count(s: str, outcome: str) -> float:
        return current_value(
            metrics.enrich_records, {"input": "web", "step": s, "outcome": outcome}, "_total"
        )

    assert count("user_agent", "enriched") == 2
    assert count("url", "enriched") == 2
    assert count("geoip", "enriched") == 1
    assert count("geoip", "missed") == 1


def test_reload_opens_the_database_files_again(tmp_path: Path) -> None:
    city = tmp_path / "city.mmdb"
    shutil.copy(CITY_DB, city)
    text = config_text(tmp_path, f"[{{geoip: {{city_db: {city}}}}}]")
    config = parse_config(text, "t.yaml", tmp_path, {})
    pipeline = Pipeline(config)
    first = pipeline.inputs[0].chain.enrichment
    assert first is not None
    city.unlink()  # the weekly update: a new file under the same name
    with pytest.raises(StartupError, match="city_db"):
        pipeline.reload(config)
    shutil.copy(CITY_DB, city)
    pipeline.reload(config)
    second = pipeline.inputs[0].chain.enrichment
    assert second is not None
    assert second.steps[0].city is not first.steps[0].city  # type: ignore[attr-defined]


def test_check_and_parse_refuse_a_missing_database_and_parse_shows_the_enriched_fields(
    tmp_path: Path,
) -> None:
    from tests.harness import run_cli

    log = tmp_path / "access.log"
    log.write_text(LINE + "\n")
    good = tmp_path / "good.yaml"
    good.write_text(config_text(tmp_path, geo_enrich()))
    bad = tmp_path / "bad.yaml"
    bad.write_text(config_text(tmp_path, geo_enrich(city=tmp_path / "gone.mmdb")))

    checked = run_cli("check", "-c", str(bad))
    assert checked.returncode != 0
    assert "inputs[0].enrich[2].geoip.city_db: cannot read" in checked.stderr

    refused = run_cli("parse", "-c", str(bad), str(log))
    assert refused.returncode != 0
    assert "inputs[0].enrich[2].geoip.city_db" in refused.stderr

    parsed = run_cli("parse", "-c", str(good), str(log))
    assert parsed.returncode == 0, parsed.stderr
    record = orjson.loads(parsed.stdout.splitlines()[0])
    assert record["source"]["geo"]["country_iso_code"] == "SE"
    assert record["user_agent"]["os"]["full"] == "Windows 7"
    assert record["url"]["query"] == "id=7"
    assert "# enrich geoip: 1 enriched, 0 missed, 0 failed" in parsed.stderr


def test_a_reload_whose_database_is_gone_keeps_the_running_config_and_its_readers(
    tmp_path: Path,
) -> None:
    from logship.app.agent import Agent

    city = tmp_path / "city.mmdb"
    shutil.copy(CITY_DB, city)
    path = tmp_path / "agent.yaml"
    path.write_text(config_text(tmp_path, f"[{{geoip: {{city_db: {city}}}}}]"))
    config = parse_config(path.read_text(), str(path), tmp_path, {})
    agent = Agent(config, config_path=path)
    running = agent.pipeline.inputs[0].chain.enrichment
    city.unlink()
    agent._apply_reload()  # SIGHUP's work: logs the error, changes nothing
    assert agent.pipeline.inputs[0].chain.enrichment is running
