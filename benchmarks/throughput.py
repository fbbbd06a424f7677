"""Throughput: 1,000,000 nginx lines through the agent (file -> nginx rule -> file sink).

    python benchmarks/throughput.py [--lines N] [--keep]

In the same run, for comparison: a bare single-threaded loop doing the same work (1 MiB chunks,
`re` match, dict, orjson, append to a file) in its own process. Prints lines/s, MiB/s, CPU
seconds, lines per CPU-second, peak RSS and minor page faults for each. The machine is shared
and noisy: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from agent_run import HEADER, LineCounter, Measurement, proc_stats, run_agent, write_config
from nginx_log import write as write_nginx

OUT = Path(__file__).resolve().parent / "out"

NGINX_RULE = {
    "name": "nginx_combined",
    "regex": (
        r'^(?P<source_ip>\S+) - (?P<user_name>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) '
        r'(?P<url>\S+) (?P<http_version>[^"]+)" (?P<status>\d{3}) (?P<bytes>\d+) '
        r'"(?P<referrer>[^"]*)" "(?P<user_agent>[^"]*)"'
    ),
    "types": {"status": "int", "bytes": "int"},
    "timestamp": {"field": "time", "format": "%d/%b/%Y:%H:%M:%S %z"},
}

BARE_LOOP = textwrap.dedent(
    """
    import datetime, os, re, socket, sys, time, orjson
    rx = re.compile(sys.argv[3])
    host = socket.gethostname()
    cache = {}
    out = open(sys.argv[2], "wb")
    with open(sys.argv[1], "rb") as f:
        rest = b""
        offset = 0
        while chunk := f.read(1 << 20):
            data = rest + chunk
            cut = data.rfind(b"\\n") + 1
            rest = data[cut:]
            lines = data[:cut].decode("utf-8", "replace").split("\\n")
            lines.pop()
            docs = []
            for line in lines:
                m = rx.match(line)
                d = m.groupdict()
                d["status"] = int(d["status"]); d["bytes"] = int(d["bytes"])
                t = d.pop("time")
                ts = cache.get(t)
                if ts is None:
                    ts = datetime.datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z").astimezone(datetime.timezone.utc)
                    ts = ts.strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"
                    cache[t] = ts
                d["@timestamp"] = ts
                d["message"] = line
                d["log"] = {"file": {"path": sys.argv[1]}, "offset": offset}
                d["host"] = {"name": host}
                offset += len(line) + 1
                docs.append(orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE))
            out.write(b"".join(docs))
    out.flush()
    os.fsync(out.fileno())
    """
)


def ensure_input(lines: int) -> Path:
    """The generated nginx log with `lines` lines (reused across runs)."""
    path = OUT / f"nginx-{lines}.log"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_nginx(str(tmp), lines)
        tmp.rename(path)
    return path


def bare_loop(log: Path, lines: int, work: Path) -> Measurement:
    """The lean single-threaded loop in its own process, measured the same way."""
    out = work / "bare.ndjson"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_LOOP, str(log), str(out), NGINX_RULE["regex"]]
    )
    # Sample /proc until it exits: CPU and RSS are read from the last sample.
    user = system = rss = 0.0
    minflt = 0
    while proc.poll() is None:
        try:
            user, system, minflt, rss = proc_stats(proc.pid)
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.02)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"bare loop failed with {proc.returncode}")
    return Measurement(
        "bare python loop", lines, log.stat().st_size, wall, user, system, rss, minflt
    )


def agent_file_to_file(
    log: Path, lines: int, work: Path, rule: str = "nginx_access", name: str = "agent file -> file"
) -> Measurement:
    """The agent: tail the log, nginx rule, file sink; until every line is in the output.

    `rule`: `nginx_access`, the built-in rule with ECS field names (nested records), or
    `nginx_combined`, a flat-named user rule (NGINX_RULE) doing the same matching.
    """
    out = work / f"{rule}.ndjson"
    config = write_config(
        work / f"{rule}.yaml",
        {
            "agent": {
                "data_dir": str(work / f"data-{rule}"),
                "log_level": "warning",
                "http": {"address": None},
            },
            "inputs": [{"name": "nginx", "paths": [str(log)], "parsers": [rule]}],
            "parsers": [NGINX_RULE],
            "sinks": [{"name": "file", "type": "file", "path": str(out)}],
        },
    )
    counter = LineCounter(out)
    return run_agent(name, config, lines, log.stat().st_size, counter.poll)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the outputs in benchmarks/out/run"
    )
    args = parser.parse_args()
    log = ensure_input(args.lines)
    work = OUT / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"input: {log} ({log.stat().st_size / 2**20:.1f} MiB, {args.lines:,} lines)")
    print(HEADER)
    bare = bare_loop(log, args.lines, work)
    print(bare.row(), flush=True)
    agent = agent_file_to_file(log, args.lines, work, "nginx_access", "agent, built-in ECS rule")
    print(agent.row(), flush=True)
    flat = agent_file_to_file(log, args.lines, work, "nginx_combined", "agent, flat user rule")
    print(flat.row(), flush=True)
    print(
        f"\nagent / bare loop: {agent.lines_per_cpu_s / bare.lines_per_cpu_s:.0%} of the lines per CPU-second, "
        f"{agent.lines_per_s / bare.lines_per_s:.0%} of the wall-clock rate"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
