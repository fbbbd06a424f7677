"""SIGHUP: rules and inputs reload without a restart and without losing checkpoints."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.harness import AgentProcess, count_lines, read_ndjson, wait_until, write_config


def doc(
    tmp_path: Path, rule: dict[str, Any], workers: int = 1, extra_input: bool = False
) -> dict[str, Any]:
    inputs = [
        {
            "name": "app",
            "paths": [str(tmp_path / "logs" / "*.log")],
            "parsers": [rule["name"]],
            "poll_interval": "50ms",
        }
    ]
    if extra_input:
        inputs.append(
            {"name": "audit", "paths": [str(tmp_path / "audit" / "*.log")], "poll_interval": "50ms"}
        )
    return {
        "agent": {
            "data_dir": str(tmp_path / "data"),
            "checkpoint_interval": "100ms",
            "workers": workers,
            "http": {"address": None},
        },
        "inputs": inputs,
        "parsers": [rule],
        "sinks": [
            {
                "name": "out",
                "type": "file",
                "path": str(tmp_path / "out" / "logs.ndjson"),
                "batch": {"linger_ms": 10},
            }
        ],
    }


RULE_A = {"name": "words", "regex": r"^(?P<first>\w+) (?P<rest>.*)$"}
RULE_B = {"name": "numbers", "regex": r"^(?P<kind>\w+) (?P<n>\d+)$", "types": {"n": "int"}}


def append(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


def reload_logs(agent: AgentProcess, message: str) -> int:
    return sum(1 for e in agent.logs() if e.get("message") == message)


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_swaps_the_rules_and_keeps_the_offsets(
    tmp_path: Path, agents: list[AgentProcess], workers: int
) -> None:
    config = write_config(tmp_path / "agent.yaml", doc(tmp_path, RULE_A, workers))
    logs = [tmp_path / "logs" / f"f{n}.log" for n in range(2)]
    for log in logs:
        append(log, [f"before {i}" for i in range(100)])
    agent = AgentProcess(config).start()
    agents.append(agent)
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) == 200, message="lines parsed by the first rule")
    write_config(config, doc(tmp_path, RULE_B, workers))
    agent.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    wait_until(
        lambda: reload_logs(agent, "Config reloaded: inputs and parser rules applied.") == workers,
        message="every process reloaded",
    )
    for log in logs:
        append(log, [f"after {i}" for i in range(100)])
    wait_until(lambda: count_lines(out) == 400, message="lines parsed by the new rule")
    assert agent.stop() == 0
    records = read_ndjson(out)
    before = [r for r in records if r["message"].startswith("before")]
    after = [r for r in records if r["message"].startswith("after")]
    assert len(before) == len(after) == 200, "nothing lost, nothing shipped twice"
    assert all(r["first"] == "before" and "n" not in r for r in before)
    assert all(r["kind"] == "after" and isinstance(r["n"], int) for r in after)


def test_an_invalid_config_is_reported_and_the_running_one_kept(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    config = write_config(tmp_path / "agent.yaml", doc(tmp_path, RULE_A))
    log = tmp_path / "logs" / "a.log"
    append(log, ["one line"])
    agent = AgentProcess(config).start()
    agents.append(agent)
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) == 1, message="first line")
    broken = doc(tmp_path, {"name": "words", "regex": r"^(?P<first>\w+"})
    write_config(config, broken)
    agent.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    failure = agent.wait_for_log("Reload failed; the running config is kept.")
    assert any("does not compile" in p for p in failure["problems"])
    append(log, ["still parsed"])
    wait_until(lambda: count_lines(out) == 2, message="the old rule still runs")
    assert agent.running()
    assert agent.stop() == 0
    assert read_ndjson(out)[1]["first"] == "still"


def test_a_new_input_is_picked_up_and_sink_changes_wait_for_a_restart(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    config = write_config(tmp_path / "agent.yaml", doc(tmp_path, RULE_A))
    append(tmp_path / "logs" / "a.log", ["app line"])
    append(tmp_path / "audit" / "x.log", ["audit line"])
    agent = AgentProcess(config).start()
    agents.append(agent)
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) == 1, message="the app line")
    changed = doc(tmp_path, RULE_A, extra_input=True)
    changed["sinks"][0]["batch"] = {"linger_ms": 50}
    write_config(config, changed)
    agent.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    warning = agent.wait_for_log("Some changed settings only take effect after a restart.")
    assert warning["sections"] == ["sinks"]
    wait_until(lambda: count_lines(out) == 2, message="the new input's file")
    assert agent.stop() == 0
    assert sorted(r["message"] for r in read_ndjson(out)) == ["app line", "audit line"]


def test_alert_windows_and_silences_survive_a_reload(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    from tests.doubles.webhook_server import WebhookServer
    from tests.observe.alerts.test_alerts_end_to_end import config as alert_config
    from tests.observe.alerts.test_alerts_end_to_end import lines as alert_lines

    with WebhookServer() as hook:
        alerts = {
            "destinations": [{"name": "oncall", "url": hook.url}],
            "rules": [
                {
                    "name": "errors",
                    "when": {"field": "log.level", "equals": "error"},
                    "threshold": "count >= 20 within 1h",
                    "silence": "1h",
                    "message": "{count} errors",
                }
            ],
        }
        cfg = alert_config(tmp_path, alerts)
        log = tmp_path / "logs" / "app.log"
        log.touch()
        agent = AgentProcess(cfg).start()
        agents.append(agent)
        agent.wait_for_log("File opened.")
        with log.open("a") as f:
            f.write(alert_lines([("ERROR", "shop")] * 15))
        out = tmp_path / "out" / "logs.ndjson"
        wait_until(lambda: count_lines(out) == 15, message="15 errors counted")
        text = cfg.read_text().replace("poll_interval: 50ms", "poll_interval: 60ms")
        cfg.write_text(text)  # an unrelated change: the alert rules are rebuilt all the same
        agent.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        agent.wait_for_log("Config reloaded: inputs and parser rules applied.")
        with log.open("a") as f:
            f.write(alert_lines([("ERROR", "shop")] * 10, start=15))
        wait_until(
            lambda: len(hook.delivered()) == 1, timeout=30, message="the alert after the reload"
        )
        wait_until(lambda: count_lines(out) == 25, message="every line shipped")
        assert agent.stop() == 0
        (body,) = hook.bodies()
        assert body["status"] == "firing"
        assert body["message"] == "20 errors", "the 15 counted before the reload still count"


def test_a_reload_asked_for_while_the_workers_start_reaches_them_once_they_can_reload(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    """SIGHUP right after the supervisor started its workers, before they installed their
    handler (SIGHUP's default action would kill them): held until they can take it."""
    config = write_config(tmp_path / "agent.yaml", doc(tmp_path, RULE_A, workers=2))
    append(tmp_path / "logs" / "a.log", ["one 1"])
    agent = AgentProcess(config).start()
    agents.append(agent)
    wait_until(
        lambda: sum(1 for e in agent.logs() if e.get("message") == "Worker started.") == 2,
        interval=0.005,
        message="both workers spawned",
    )
    write_config(config, doc(tmp_path, RULE_B, workers=2))
    agent.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    try:
        wait_until(
            lambda: reload_logs(agent, "Config reloaded: inputs and parser rules applied.") == 2,
            message="both workers reloaded",
        )
    except AssertionError as exc:  # seen once under a loaded CI run: say what the agent did
        raise AssertionError(f"{exc}; the agent logged: {agent.logs()}") from exc
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) == 1, message="the line")
    assert agent.stop() == 0
    assert not [
        e for e in agent.logs() if e.get("message") == "Worker exited unexpectedly; restarting it."
    ]
