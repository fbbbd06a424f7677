"""JSON lines: structured application logs (one JSON object per line) through the agent.

    python benchmarks/json_lines.py [--lines N] [--keep]

`lines()` makes JSON log lines shaped like those of Go / Java / Python structured loggers (time,
level, logger, message, request fields, a nested user object); the parser engine's `json` rule
turns each into a record (the keys become fields). If the config does not accept the rule, the
scenario reports itself as skipped and says why.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import LineCounter, agent_doc, run_agent, write_config
from benchmarks.nginx_log import OUT
from benchmarks.report import Report

JSON_RULE: dict[str, Any] = {
    "name": "json_lines",
    "type": "json",
    "timestamp": {"field": ["time"], "format": ["ISO8601"]},
    "message": "msg",
}
"""The json rule (parser engine, issue #4): keys become fields, `time` the @timestamp, `msg` the
message, `level` the log.level (by default)."""

NOT_YET = (
    "the agent's config does not accept JSON_RULE (benchmarks/json_lines.py): "
    "the parser engine's json rule (issue #4) is missing or its syntax changed"
)


def lines(count: int, seed: int = 3) -> Iterator[bytes]:
    """`count` JSON log lines (newline-terminated), deterministic."""
    rng = random.Random(seed)
    levels = ["info"] * 8 + ["debug", "warn", "error"]
    for i in range(count):
        doc = {
            "time": f"2025-11-24T16:{(i // 6000) % 60:02}:{(i // 100) % 60:02}.{i % 1000:03}Z",
            "level": rng.choice(levels),
            "logger": rng.choice(["api", "db", "cache", "auth"]),
            "msg": rng.choice(["request served", "query done", "cache miss", "token refreshed"]),
            "request_id": f"{rng.getrandbits(64):016x}",
            "method": rng.choice(["GET", "POST"]),
            "path": rng.choice(["/api/v1/users", "/api/v1/orders", "/health"]),
            "status": rng.choice([200, 200, 200, 201, 404, 500]),
            "duration_ms": round(rng.random() * 250, 3),
            "user": {"id": rng.randrange(10_000), "tenant": rng.choice(["acme", "globex"])},
        }
        yield orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)


def ensure_input(count: int) -> Path:
    """The generated JSON log in benchmarks/out (made once)."""
    path = OUT / f"json-{count}.log"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.writelines(lines(count))
        tmp.rename(path)
    return path


def json_rule_supported() -> bool:
    """True when the agent's config accepts JSON_RULE (the parser engine has landed)."""
    from pydantic import ValidationError

    from logship.app.config import Config

    doc = agent_doc(Path("/nonexistent"), ["/nonexistent/*.log"], {"type": "null"}, [JSON_RULE])
    try:
        Config.model_validate(doc)
    except ValidationError:
        return False
    return True


def run(count: int, keep: bool = False) -> Report:
    """Scenario `json`: skipped until the json rule exists."""
    report = Report("json", f"JSON lines -> json rule -> file, {count:,} lines")
    if not json_rule_supported():
        report.skipped = NOT_YET
        return report
    log = ensure_input(count)
    work = OUT / "json"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work / "agent.ndjson"
    doc = agent_doc(work, [str(log)], {"type": "file", "path": str(out)}, [JSON_RULE])
    config = write_config(work / "agent.yaml", doc)
    report.measurements.append(
        run_agent("agent json -> file", config, count, log.stat().st_size, LineCounter(out).poll)
    )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder in benchmarks/out"
    )
    args = parser.parse_args()
    print(run(args.lines, args.keep).text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
