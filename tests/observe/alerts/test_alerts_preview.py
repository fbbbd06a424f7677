"""`logship alerts`: a log file replayed through the alert rules with its own timestamps as the clock."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.harness import run_cli, write_config

RULE = {
    "name": "app",
    "regex": r"^(?P<ts>\S+) (?P<level>[A-Z]+) (?P<service.name>\S+) (?P<message>.*)$",
    "timestamp": {"field": "ts"},
}


def setup(tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {"data_dir": str(tmp_path / "data"), "host_name": "node-1"},
            "inputs": [{"name": "app", "paths": [str(tmp_path / "*.log")], "parsers": ["app"]}],
            "parsers": [RULE],
            "sinks": [{"name": "out", "type": "file", "path": str(tmp_path / "out.ndjson")}],
            "alerts": {
                "rules": [
                    {
                        "name": "bursts",
                        "when": {"field": "log.level", "equals": "error"},
                        "threshold": "count >= 3 within 10s",
                        "group_by": ["service.name"],
                        "silence": "1m",
                        "resolve_after": "30s",
                        "message": "{service.name}: {count} errors in {window}, last: {message}",
                    }
                ]
            },
        },
    )
    lines = []
    # payment: 3 errors within 10 s at 10:00:00-02 (fires), quiet, then 3 more at 10:05 (fires
    # again: past the silence); search: 2 errors 10 s apart (never 3 in 10 s).
    for second in (0, 1, 2, 300, 301, 302):
        lines.append(
            f"2026-03-01T10:{second // 60:02d}:{second % 60:02d}.000Z ERROR payment card declined {second}"
        )
    for second in (5, 15):
        lines.append(f"2026-03-01T10:00:{second:02d}.000Z ERROR search timeout {second}")
    lines.append("2026-03-01T10:10:00.000Z INFO payment ok")
    log = tmp_path / "app.log"
    log.write_text("\n".join(sorted(lines)) + "\n")
    return config, log


def test_the_preview_shows_when_each_group_fires_and_resolves(tmp_path: Path) -> None:
    config, log = setup(tmp_path)
    done = run_cli("alerts", "-c", str(config), "--input", "app", str(log))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2026-03-01T10:00:02.000Z  FIRING    bursts  warning  service.name=payment  "
        "payment: 3 errors in 10s, last: card declined 2",
        "2026-03-01T10:00:40.000Z  RESOLVED  bursts  warning  service.name=payment  bursts: resolved",
        "2026-03-01T10:05:02.000Z  FIRING    bursts  warning  service.name=payment  "
        "payment: 3 errors in 10s, last: card declined 302",
        "2026-03-01T10:05:40.000Z  RESOLVED  bursts  warning  service.name=payment  bursts: resolved",
    ]
    assert "# 9 event(s)" in done.stderr
    assert "bursts" in done.stderr.splitlines()[-1]
    assert done.stderr.splitlines()[-1].split()[2:] == ["8", "0", "2", "2"]


def test_json_output_and_resolves_after_the_end(tmp_path: Path) -> None:
    config, log = setup(tmp_path)
    log.write_text(
        "".join(f"2026-03-01T10:00:0{s}.000Z ERROR payment boom {s}\n" for s in range(3))
    )
    done = run_cli("alerts", "-c", str(config), "--input", "app", str(log), "--json")
    assert done.returncode == 0, done.stderr
    firing, resolved = (orjson.loads(line) for line in done.stdout.splitlines())
    assert firing["status"] == "firing"
    assert firing["after_end"] is False
    assert firing["group"] == {"service.name": "payment"}
    assert resolved["status"] == "resolved"
    assert resolved["after_end"] is True
    assert resolved["ends_at"] == "2026-03-01T10:00:40.000Z"


def test_an_input_without_alert_rules_is_an_error(tmp_path: Path) -> None:
    config, log = setup(tmp_path)
    done = run_cli("alerts", "-c", str(config), "--input", "nope", str(log))
    assert done.returncode == 2
    assert "no input named 'nope'" in done.stderr
