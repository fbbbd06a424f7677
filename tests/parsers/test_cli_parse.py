"""`logship parse` end to end, as a process: records on stdout, a summary on stderr, exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from tests.harness import REPO

NGINX = '10.0.0.1 - - [24/Nov/2025:16:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8"\n'


def write(tmp_path: Path, on_no_match: str = "keep") -> Path:
    config = tmp_path / "logship.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "agent": {"data_dir": str(tmp_path / "data")},
                "inputs": [
                    {
                        "name": "web",
                        "paths": [str(tmp_path / "*.log")],
                        "parsers": ["nginx_access", "health"],
                        "on_no_match": on_no_match,
                    }
                ],
                "parsers": {
                    "rules": [
                        {
                            "name": "health",
                            "regex": r"^health (?P<n>\S+)$",
                            "types": {"n": "int"},
                            "drop_if": {"field": "n", "equals": 0},
                        }
                    ]
                },
                "sinks": [{"name": "out", "type": "file", "path": str(tmp_path / "out.ndjson")}],
            }
        )
    )
    return config


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "logship", "parse", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_parse_prints_records_and_a_summary_per_rule(tmp_path: Path) -> None:
    config = write(tmp_path)
    logfile = tmp_path / "access.log"
    logfile.write_text(
        NGINX + "health 1\nhealth 0\nhealth x\nnot a known line\n" + NGINX.rstrip("\n")
    )
    result = run("-c", str(config), "--input", "web", str(logfile))
    assert result.returncode == 0, result.stderr
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [r["message"] for r in records] == [
        NGINX.rstrip("\n"),
        "health 1",
        "health x",
        "not a known line",
        NGINX.rstrip("\n"),
    ]
    assert records[0]["http"]["response"]["status_code"] == 200
    assert records[0]["log"]["file"]["path"] == str(logfile)
    assert records[2]["tags"] == ["type_conversion_failure"]
    assert records[3]["tags"] == ["parse_failure"]
    summary = result.stderr.decode()
    assert "# 6 event(s) from 6 line(s) of" in summary
    assert re.search(r"#\s+nginx_access\s+2\s+0\n", summary)
    assert re.search(r"#\s+health\s+3\s+1\n", summary)
    assert re.search(r"#\s+\(no rule matched\)\s+1\s+0\s+kept, tags \[parse_failure\]", summary)
    assert "# field errors: health: type_conversion_failure: 1" in summary
    assert "#   line 5: not a known line" in summary
    assert not (tmp_path / "data").exists()  # no agent state touched
    assert not (tmp_path / "out.ndjson").exists()


def test_strict_fails_on_unmatched_lines_from_stdin(tmp_path: Path) -> None:
    config = write(tmp_path, on_no_match="drop")
    result = run(
        "-c",
        str(config),
        "--input",
        "web",
        "--strict",
        "--summary-only",
        stdin=b"junk\n" + NGINX.encode(),
    )
    assert result.returncode == 1
    assert result.stdout == b""
    assert re.search(
        r"\(no rule matched\)\s+1\s+1\s+dropped \(on_no_match: drop\)", result.stderr.decode()
    )
    assert "line 1: junk" in result.stderr.decode()
    ok = run("-c", str(config), "--input", "web", "--strict", "-", stdin=NGINX.encode())
    assert ok.returncode == 0
    assert len(ok.stdout.splitlines()) == 1


def test_bad_config_unknown_input_and_missing_file_are_reported(tmp_path: Path) -> None:
    config = write(tmp_path)
    unknown = run("-c", str(config), "--input", "nope", "-", stdin=b"")
    assert unknown.returncode == 2
    assert "no input named 'nope'" in unknown.stderr.decode()
    missing = run("-c", str(config), "--input", "web", str(tmp_path / "missing.log"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr.decode()
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text().replace("^health (?P<n>\\S+)$", "(?P<n>"))
    bad = run("-c", str(broken), "--input", "web", "-", stdin=b"")
    assert bad.returncode == 2
    assert "parsers.rules[0].regex (health): does not compile" in bad.stderr.decode()


def test_parse_needs_no_input_name_when_the_config_has_one_input(tmp_path: Path) -> None:
    config = write(tmp_path)
    result = run("-c", str(config), "-", stdin=NGINX.encode())
    assert result.returncode == 0, result.stderr
    [record] = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert record["http"]["response"]["status_code"] == 200
    assert "input 'web'" in result.stderr.decode()


def test_parse_asks_which_input_when_the_config_has_several(tmp_path: Path) -> None:
    config = write(tmp_path)
    doc = yaml.safe_load(config.read_text())
    doc["inputs"].append({**doc["inputs"][0], "name": "api"})
    config.write_text(yaml.safe_dump(doc))
    result = run("-c", str(config), "-", stdin=NGINX.encode())
    assert result.returncode == 2
    assert "2 inputs: name one with --input (web, api)" in result.stderr.decode()
    named = run("-c", str(config), "--input", "api", "-", stdin=NGINX.encode())
    assert named.returncode == 0, named.stderr
