"""Field names that clash with ECS objects are warned about at `check` and at `run` start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logship.app.config import Config
from logship.app.ecs_names import ecs_warnings
from tests.harness import AgentProcess, run_cli, write_config

FLAT_RULE = {
    "name": "flat",
    "regex": r"^(?P<source_ip>\S+) (?P<user_agent>\S+) (?P<url>\S+) (?P<msg>.*) (?P<http>\d+)$",
    "rename": {"http": "status"},
    "remove": ["url"],
    "message": "msg",
    "add": {"service": "shop", "event.dataset": "shop"},
}


def doc(tmp_path: Path, **inp: Any) -> dict[str, Any]:
    return {
        "agent": {"data_dir": str(tmp_path / "data"), "http": {"address": None}},
        "inputs": [{"name": "web", "paths": [str(tmp_path / "*.log")], "parsers": ["flat"], **inp}],
        "parsers": [FLAT_RULE],
        "sinks": [{"name": "out", "type": "file", "path": str(tmp_path / "out.ndjson")}],
    }


def test_scalar_fields_named_like_ecs_objects_are_named_with_the_field_to_use(
    tmp_path: Path,
) -> None:
    warnings = ecs_warnings(Config.model_validate(doc(tmp_path, fields={"host": "a"})))
    assert len(warnings) == 3
    service, user_agent, host = warnings
    assert service.startswith("parsers.rules[0] (rule 'flat'): field 'service'")
    assert "name it service.name" in service
    assert "field 'user_agent'" in user_agent
    assert "name it user_agent.original" in user_agent
    assert host.startswith("inputs[0].fields: 'host'")
    # removed (url), renamed (http), dotted (event.dataset) and message fields are fine


def test_built_in_rules_and_ecs_names_give_no_warning(tmp_path: Path) -> None:
    cfg = doc(tmp_path, parsers=["nginx_access", "apache_access"], fields={"labels.a": "b"})
    cfg["parsers"] = []
    assert ecs_warnings(Config.model_validate(cfg)) == []


def test_check_prints_the_warning_and_still_passes(tmp_path: Path) -> None:
    path = write_config(tmp_path / "agent.yaml", doc(tmp_path))
    done = run_cli("check", "-c", str(path))
    assert done.returncode == 0, done.stderr
    assert "warning: parsers.rules[0] (rule 'flat'): field 'user_agent'" in done.stdout
    assert "ok, with the warning(s) above" in done.stdout


def test_run_logs_the_warning_at_start(tmp_path: Path, agents: list[AgentProcess]) -> None:
    path = write_config(tmp_path / "agent.yaml", doc(tmp_path))
    agent = AgentProcess(path).start()
    agents.append(agent)
    logged = agent.wait_for_log("Start-up check warning.")
    assert "field 'service'" in logged["warning"]
    assert agent.stop() == 0
