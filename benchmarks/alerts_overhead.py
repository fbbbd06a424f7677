"""Alerts overhead: the nginx benchmark with 10 alert rules active against none, in the same run.

    python benchmarks/alerts_overhead.py [--lines N] [--repeat R] [--keep]

file -> nginx rule -> file sink, the same generated access log, twice per round: once with ten
alert rules (5xx bursts per URL, 404 storms, 401/403 per source IP with up to 1,000 groups,
/admin probes, large responses, DELETE bursts, scanners, login floods, the first 502, a named
user) delivering to a webhook that is down (notifications are queued, retried and dropped when
the queue overflows, as in an outage), and once without alerts. The log's timestamps end at the
moment it is generated, so matching records really count in their windows (a replayed old log
would be skipped as late, which costs nothing). Reports lines/s and lines per CPU-second of
both and their ratios (target: the alerts run keeps at least 90%); rounds alternate the order,
ratios are of the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import LineCounter, Measurement, agent_doc, run_agent, write_config
from benchmarks.nginx_log import OUT, lines
from benchmarks.report import Report

RULES: list[dict[str, Any]] = [
    {
        "name": "server_errors",
        "when": {"field": "status", "gte": 500, "lt": 600},
        "threshold": "count >= 100 within 1m",
        "group_by": ["url"],
        "message": "{url}: {count} 5xx in {window}",
    },
    {
        "name": "not_found_storm",
        "when": {"field": "status", "equals": 404},
        "threshold": "count >= 1000 within 1m",
    },
    {
        "name": "auth_failures_per_ip",
        "when": {"field": "status", "in": [401, 403]},
        "threshold": "count >= 20 within 1m",
        "group_by": ["source_ip"],
        "max_groups": 1000,
    },
    {"name": "admin_probe", "when": {"field": "url", "matches": "^/(admin|wp-login)"}},
    {
        "name": "large_responses",
        "when": {"field": "bytes", "gt": 49_500},
        "threshold": "count >= 50 within 1m",
    },
    {
        "name": "delete_bursts",
        "when": {"field": "method", "equals": "DELETE"},
        "threshold": "count >= 500 within 1m",
        "group_by": ["url"],
    },
    {
        "name": "scanners",
        "when": {"field": "user_agent", "matches": "(?i)sqlmap|nikto|masscan"},
        "threshold": "count >= 10 within 1m",
    },
    {
        "name": "login_flood",
        "when": {
            "all": [
                {"field": "method", "equals": "POST"},
                {"field": "url", "equals": "/login"},
            ]
        },
        "threshold": "count >= 200 within 1m",
    },
    {"name": "first_502", "when": {"field": "status", "equals": 502}, "silence": "10m"},
    {
        "name": "named_user_errors",
        "when": {
            "all": [
                {"not": {"field": "user_name", "equals": "-"}},
                {"field": "status", "gte": 500},
            ]
        },
        "threshold": "count >= 100 within 1m",
        "group_by": ["user_name"],
    },
]

ALERTS = {
    "destinations": [{"name": "hook", "url": "http://127.0.0.1:9/hook", "request_timeout": "1s"}],
    "rules": RULES,
}


def fresh_log(path: Path, count: int) -> None:
    """`count` nginx lines whose timestamps span the last 40 seconds up to now."""
    per_second = max(1, count // 40)
    start = time.time() - 40
    with path.open("w", encoding="ascii") as out:
        out.writelines(lines(count, start=start, per_second=per_second))


def run_once(log: Path, count: int, work: Path, name: str, alerts: bool) -> Measurement:
    data = work / f"data-{name}"
    shutil.rmtree(data, ignore_errors=True)
    out = work / f"{name}.ndjson"
    out.unlink(missing_ok=True)
    doc = agent_doc(work, [str(log)], {"type": "file", "path": str(out)}, workers=1)
    doc["agent"]["data_dir"] = str(data)
    if alerts:
        doc["alerts"] = ALERTS
    config = write_config(work / f"{name}.yaml", doc)
    return run_agent(name, config, count, log.stat().st_size, LineCounter(out).poll)


def run(count: int, repeat: int = 2, keep: bool = False) -> Report:
    """Rounds of (alerts, none) on a freshly generated log; medians and their ratios."""
    work = OUT / "alerts"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "access.log"
    with_alerts: list[Measurement] = []
    without: list[Measurement] = []
    report = Report(
        "alerts", f"file -> nginx rule -> file sink, {count:,} lines, 10 alert rules vs none"
    )
    for round_ in range(repeat):
        fresh_log(log, count)
        order = [True, False] if round_ % 2 == 0 else [False, True]
        for alerts in order:
            name = f"10 alert rules #{round_ + 1}" if alerts else f"no alerts #{round_ + 1}"
            m = run_once(log, count, work, name.replace(" ", "-").replace("#", ""), alerts)
            m.name = name
            (with_alerts if alerts else without).append(m)
            report.measurements.append(m)
    rate = statistics.median(m.lines_per_s for m in with_alerts) / statistics.median(
        m.lines_per_s for m in without
    )
    cpu = statistics.median(m.lines_per_cpu_s for m in with_alerts) / statistics.median(
        m.lines_per_cpu_s for m in without
    )
    report.notes.append(
        f"10 alert rules / none: {rate:.0%} of the lines/s, {cpu:.0%} of the lines per CPU-second "
        f"(medians of {repeat} round(s); target >= 90%)"
    )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/out/alerts")
    args = parser.parse_args()
    print(run(args.lines, args.repeat, args.keep).text(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
