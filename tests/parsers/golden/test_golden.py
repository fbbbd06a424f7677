"""Golden cases: every built-in rule on sample lines (real ones from the corpora and edge cases),
against the records written out in `<name>.expected.jsonl` beside each `<name>.log`.

Each `.log` is parsed by the chain named after it (`CHAINS`), with a fixed clock (year inference),
read time, file and host, so the expected records are complete and exact. After a deliberate
change, `LOGSHIP_UPDATE_GOLDEN=1 pytest tests/parsers/golden` rewrites the expected files: read
the diff line by line before committing it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.tail.framing import LineFramer
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.regex_rule import RegexRule
from parsers.section import ParsersSettings

HERE = Path(__file__).parent
CLOCK = dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp()
READ_TIME = "2026-01-02T00:00:00.000Z"
HOST = "golden-host"

CHAINS = {
    "linux_auth": ["sshd", "sudo", "groupadd", "useradd", "auth_user", "syslog_rfc3164"],
    "python_logging": ["python_logging", "python_logging_timestamped"],
}


def golden_names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.log"))


def parse_file(name: str) -> list[dict[str, Any]]:
    section = ParsersSettings()
    rules = [
        compile_rule(section.rule(r), section.library, "UTC", lambda: CLOCK)
        for r in CHAINS.get(name, [name])
    ]
    chain = ParserChain(rules, HOST, clock=lambda: CLOCK)
    data = (HERE / f"{name}.log").read_bytes()
    framer = LineFramer(0, 64 * 1024)
    lines = framer.feed(data)
    file_info = {"path": f"/var/log/{name}.log", "device_id": "2049", "inode": "1234"}
    entries, _ = chain.parse(lines, file_info, READ_TIME)
    return entries


def test_every_built_in_rule_has_a_golden_file() -> None:
    section = ParsersSettings()
    covered = {r for name in golden_names() for r in CHAINS.get(name, [name])}
    builtin = {n for n in section.rule_names() if section.entry(n).builtin}  # type: ignore[union-attr]
    assert builtin <= covered, f"no golden lines for: {sorted(builtin - covered)}"


@pytest.mark.parametrize("name", golden_names())
def test_golden_records_match_the_expected_json(name: str) -> None:
    entries = parse_file(name)
    expected_path = HERE / f"{name}.expected.jsonl"
    if os.environ.get("LOGSHIP_UPDATE_GOLDEN"):
        expected_path.write_bytes(
            b"".join(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) + b"\n" for e in entries)
        )
    expected = [orjson.loads(line) for line in expected_path.read_bytes().splitlines()]
    texts = (HERE / f"{name}.log").read_text(encoding="utf-8").splitlines()
    assert len(entries) == len(expected) == len(texts)
    for number, (got, want, text) in enumerate(zip(entries, expected, texts, strict=True), 1):
        assert got == want, f"{name}.log line {number}: {text}"


@pytest.mark.parametrize("name", golden_names())
def test_generated_and_generic_paths_build_the_same_records(name: str) -> None:
    """The generated builder of a regex / grok rule and its generic path agree on every line."""
    section = ParsersSettings()
    texts = (HERE / f"{name}.log").read_text(encoding="utf-8").splitlines()
    for rule_name in CHAINS.get(name, [name]):
        rule = compile_rule(section.rule(rule_name), section.library, "UTC", lambda: CLOCK)
        if not isinstance(rule, RegexRule):
            continue
        for text in texts:
            assert rule.parse(text) == rule.parse_generic(text), f"{rule_name}: {text}"
