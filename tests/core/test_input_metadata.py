"""Per-input metadata (`fields`, `tags`, `dataset`, `service`) and the ECS agent metadata."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

import logship
from logship.app.config import Config
from logship.app.config_file import ConfigError, parse_config
from logship.core.lines import Lines
from parsers.chain import build_chains
from parsers.stamp import Stamp
from tests.harness import AgentProcess, read_ndjson, wait_until, write_config

NGINX_LINE = (
    '203.0.113.7 - - [05/Dec/2026:10:00:00 +0000] "GET /cart?id=1 HTTP/1.1" 200 512 "-" '
    '"Mozilla/5.0"'
)


def config(**inp: Any) -> Config:
    doc: dict[str, Any] = {
        "agent": {"host_name": "node-1"},
        "inputs": [{"name": "web", "paths": ["/tmp/x/*.log"], "parsers": ["nginx_access"], **inp}],
        "sinks": [{"name": "out", "type": "stdout"}],
    }
    return Config.model_validate(doc)


def parse(cfg: Config, *texts: str) -> list[dict[str, Any]]:
    lines = Lines(end=0)
    offset = 0
    for text in texts:
        lines.texts.append(text)
        lines.starts.append(offset)
        offset += len(text) + 1
    entries, _ = build_chains(cfg)["web"].parse(
        lines, {"path": "/tmp/x/a.log"}, "2026-12-05T00:00:00.000Z"
    )
    return entries


def test_every_record_carries_ecs_version_and_the_agent_by_default() -> None:
    record, unmatched = parse(config(), NGINX_LINE, "not nginx")
    for rec in (record, unmatched):
        assert rec["ecs"] == {"version": "8.11.0"}
        assert rec["agent"] == {"type": "logship", "version": logship.__version__, "name": "node-1"}


def test_agent_name_can_be_set_and_metadata_turned_off() -> None:
    named = Config.model_validate(
        {**config().model_dump(), "agent": {"host_name": "node-1", "name": "edge-7"}}
    )
    assert parse(named, NGINX_LINE)[0]["agent"]["name"] == "edge-7"
    off = Config.model_validate(
        {**config().model_dump(), "agent": {"host_name": "node-1", "metadata": False}}
    )
    record = parse(off, NGINX_LINE)[0]
    assert "ecs" not in record
    assert "agent" not in record


def test_input_fields_nest_dotted_names_and_never_replace_parsed_values() -> None:
    cfg = config(fields={"labels.team": "payments", "source": {"port": 443, "ip": "10.0.0.1"}})
    record = parse(cfg, NGINX_LINE)[0]
    assert record["labels"] == {"team": "payments"}
    # the line's address wins; the constant fills what the line lacks
    assert record["source"]["ip"] == "203.0.113.7"
    assert record["source"]["port"] == 443


def test_records_share_no_objects_from_the_input_fields() -> None:
    cfg = config(fields={"labels.team": "payments", "cloud": {"region": {"name": "eu"}}})
    first, second = parse(cfg, NGINX_LINE, NGINX_LINE)
    first["labels"]["team"] = "changed"
    first["cloud"]["region"]["name"] = "changed"
    assert second["labels"] == {"team": "payments"}
    assert second["cloud"] == {"region": {"name": "eu"}}


def test_each_chunk_gets_its_own_agent_objects() -> None:
    cfg = config()
    first = parse(cfg, NGINX_LINE)[0]
    first["agent"]["name"] = "changed"
    assert parse(cfg, NGINX_LINE)[0]["agent"]["name"] == "node-1"


def test_a_record_with_its_own_agent_object_keeps_its_values() -> None:
    stamp = Stamp.build({"ecs": {"version": "8.11.0"}, "agent": {"type": "logship"}}, [], None)
    assert stamp is not None
    rec: dict[str, Any] = {"ecs": {"version": "1.6.0"}, "agent": {"name": "app"}}
    stamp.for_chunk()(rec)
    assert rec == {"ecs": {"version": "1.6.0"}, "agent": {"name": "app", "type": "logship"}}


def test_metadata_is_added_after_redaction_which_sees_only_the_events_text() -> None:
    doc = config().model_dump()
    doc["parsers"] = {"redact": {"patterns": [{"name": "node", "regex": "node-1"}]}}
    record = parse(Config.model_validate(doc), "not nginx, from node-1")[0]
    assert record["message"] == "not nginx, from [REDACTED:node]"
    assert record["agent"]["name"] == "node-1"


def test_input_tags_are_added_after_the_rule_tags_and_parse_failure_once_each() -> None:
    record, unmatched = parse(config(tags=["web", "edge", "web"]), NGINX_LINE, "not nginx")
    assert record["tags"] == ["web", "edge"]
    assert unmatched["tags"] == ["parse_failure", "web", "edge"]


def test_input_dataset_replaces_the_built_in_rules_dataset() -> None:
    assert parse(config(), NGINX_LINE)[0]["event"]["dataset"] == "nginx.access"
    record, unmatched = parse(config(dataset="shop.edge"), NGINX_LINE, "not nginx")
    assert record["event"] == {"dataset": "shop.edge", "outcome": "success"}
    assert unmatched["event"] == {"dataset": "shop.edge"}


def test_service_sets_ecs_service_fields() -> None:
    cfg = config(service={"name": "shop", "environment": "production"})
    assert parse(cfg, NGINX_LINE)[0]["service"] == {"name": "shop", "environment": "production"}


def test_a_scalar_in_the_record_is_kept_where_a_constant_object_would_go() -> None:
    stamp = Stamp.build({"service": {"name": "shop"}}, [], "app")
    assert stamp is not None
    rec: dict[str, Any] = {"service": "parsed", "event": "parsed"}
    stamp.for_chunk()(rec)
    assert rec == {"service": "parsed", "event": "parsed"}


def test_nothing_to_add_builds_no_stamp() -> None:
    assert Stamp.build({}, [], None) is None


@pytest.mark.parametrize(
    ("inp", "expected"),
    [
        ({"dataset": "Shop-Edge"}, "inputs[0].dataset"),
        ({"dataset": "_x"}, "inputs[0].dataset"),
        ({"tags": "web"}, "inputs[0].tags"),
        ({"fields": {"labels.team": "a", "labels": {"team": "b"}}}, "'labels.team' is given twice"),
        ({"fields": {"a": 1, "a.b": 2}}, "'a' is both a value and an object"),
        ({"fields": {"event.dataset": "x"}}, "use the input's `dataset:`"),
        ({"fields": {"tags": ["x"]}}, "use the input's `tags:`"),
        ({"fields": {"agent.name": "x"}}, "set by the agent"),
        ({"fields": {"labels": {"when": None}}}, "expected a string, number, boolean"),
        ({"service": {"version": "1"}}, "inputs[0].service.name"),
    ],
)
def test_bad_metadata_refuses_the_config_naming_the_key(
    tmp_path: Path, inp: dict[str, Any], expected: str
) -> None:
    doc = {
        "inputs": [{"name": "web", "paths": ["/tmp/x/*.log"], **inp}],
        "sinks": [{"name": "out", "type": "stdout"}],
    }
    path = write_config(tmp_path / "c.yaml", doc)
    with pytest.raises(ConfigError) as info:
        parse_config(path.read_text(), str(path), tmp_path)
    assert expected in str(info.value)


def test_fields_tags_and_dataset_reach_the_output_of_logship_run(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "out.ndjson"
    path = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {"data_dir": str(tmp_path / "data"), "host_name": "node-1", "name": "edge"},
            "inputs": [
                {
                    "name": "web",
                    "paths": [str(logs / "web*.log")],
                    "parsers": ["nginx_access"],
                    "poll_interval": "50ms",
                    "fields": {"labels.team": "payments"},
                    "tags": ["edge"],
                    "dataset": "shop.access",
                    "service": {"name": "shop"},
                },
                {
                    "name": "plain",
                    "paths": [str(logs / "plain*.log")],
                    "poll_interval": "50ms",
                },
            ],
            "sinks": [{"name": "out", "type": "file", "path": str(out)}],
        },
    )
    (logs / "web.log").write_text(f"{NGINX_LINE}\nnot nginx\n")
    (logs / "plain.log").write_text("hello\n")
    agent = AgentProcess(path).start()
    agents.append(agent)
    wait_until(lambda: len(read_ndjson(out)) >= 3, timeout=60, message="3 records shipped")
    assert agent.stop() == 0
    by_text = {r["message"]: r for r in read_ndjson(out)}
    web, unmatched, plain = by_text[NGINX_LINE], by_text["not nginx"], by_text["hello"]
    for rec in (web, unmatched):
        assert rec["labels"] == {"team": "payments"}
        assert rec["event"]["dataset"] == "shop.access"
        assert rec["service"] == {"name": "shop"}
    assert web["tags"] == ["edge"]
    assert unmatched["tags"] == ["parse_failure", "edge"]
    assert "labels" not in plain
    assert "service" not in plain
    assert "event" not in plain
    for rec in (web, unmatched, plain):
        assert rec["ecs"] == {"version": "8.11.0"}
        assert rec["agent"] == {"type": "logship", "version": logship.__version__, "name": "edge"}


def test_sighup_applies_changed_input_metadata_to_the_lines_read_after_it(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    out = tmp_path / "out.ndjson"

    def doc(tags: list[str], dataset: str) -> dict[str, Any]:
        return {
            "agent": {"data_dir": str(tmp_path / "data"), "http": {"address": None}},
            "inputs": [
                {
                    "name": "app",
                    "paths": [str(log)],
                    "poll_interval": "50ms",
                    "tags": tags,
                    "dataset": dataset,
                }
            ],
            "sinks": [{"name": "out", "type": "file", "path": str(out)}],
        }

    path = write_config(tmp_path / "agent.yaml", doc(["old"], "app.old"))
    log.write_text("before\n")
    agent = AgentProcess(path).start()
    agents.append(agent)
    wait_until(lambda: len(read_ndjson(out)) == 1, message="the first record")
    write_config(path, doc(["new"], "app.new"))
    agent.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    agent.wait_for_log("Config reloaded: inputs and parser rules applied.")
    with log.open("a") as f:
        f.write("after\n")
    wait_until(lambda: len(read_ndjson(out)) == 2, message="the second record")
    assert agent.stop() == 0
    before, after = read_ndjson(out)
    assert (before["tags"], before["event"]["dataset"]) == (["parse_failure", "old"], "app.old")
    assert (after["tags"], after["event"]["dataset"]) == (["parse_failure", "new"], "app.new")
