"""Throughput: 1,000,000 nginx lines through the agent, to the null sink and to the file sink.

    python benchmarks/throughput.py [null|file|all] [--lines N] [--keep]

null: file -> nginx rule -> null sink (discards and acknowledges): the agent without an output;
      done when the checkpoints cover the whole file.
file: file -> nginx rule -> file sink (fsync per batch), and in the same run a bare
      single-threaded loop doing the same work (1 MiB chunks, `re` match, dict, orjson, append
      to a file) in its own process: the yardstick the agent is held to.

Prints lines/s, MiB/s, CPU seconds, lines per CPU-second, peak RSS and minor page faults for
each. The machine is shared and noisy: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import (
    LineCounter,
    Measurement,
    RegistryProgress,
    agent_doc,
    run_agent,
    write_config,
)
from benchmarks.nginx_log import NGINX_RULE, OUT, ensure_input
from benchmarks.report import Report

__all__ = ["NGINX_RULE", "bare_loop", "ensure_input", "run_file", "run_null"]

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


def bare_loop(log: Path, lines: int, work: Path) -> Measurement:
    """The lean single-threaded loop in its own process; CPU, faults and peak RSS from wait4."""
    out = work / "bare.ndjson"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_LOOP, str(log), str(out), str(NGINX_RULE["regex"])]
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"bare loop failed with {proc.returncode}")
    return Measurement(
        "bare python loop",
        lines,
        log.stat().st_size,
        wall,
        usage.ru_utime,
        usage.ru_stime,
        usage.ru_maxrss / 1024,
        usage.ru_minflt,
    )


def workdir(name: str) -> Path:
    """An empty work folder benchmarks/out/<name>."""
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def agent_file_to_file(
    log: Path, lines: int, work: Path, name: str = "agent file -> file", **agent: Any
) -> Measurement:
    """The agent: tail the log, nginx rule, file sink; until every line is in the output.

    `agent` options go to the `agent:` section (a run of its own: own output and data folder).
    """
    tag = "-".join(f"{k}-{v}" for k, v in agent.items())
    out = work / f"agent{tag}.ndjson"
    doc = agent_doc(work, [str(log)], {"type": "file", "path": str(out)}, **agent)
    if agent:
        doc["agent"]["data_dir"] = str(work / f"data-{tag}")
    config = write_config(work / f"agent{tag}.yaml", doc)
    return run_agent(name, config, lines, log.stat().st_size, LineCounter(out).poll)


def agent_builtin_rule_to_file(log: Path, lines: int, work: Path) -> Measurement:
    """The same run with the built-in `nginx_access` rule: ECS field names, nested records."""
    out = work / "builtin.ndjson"
    doc = agent_doc(work, [str(log)], {"type": "file", "path": str(out)})
    doc["parsers"] = []
    doc["inputs"][0]["parsers"] = ["nginx_access"]
    doc["agent"]["data_dir"] = str(work / "data-builtin")
    config = write_config(work / "builtin.yaml", doc)
    return run_agent(
        "agent, built-in ECS rule", config, lines, log.stat().st_size, LineCounter(out).poll
    )


def agent_file_to_null(log: Path, lines: int, work: Path) -> Measurement:
    """The agent to the null sink; done when the checkpoint reaches the end of the file."""
    size = log.stat().st_size
    doc = agent_doc(work, [str(log)], {"type": "null"}, checkpoint_interval="100ms")
    config = write_config(work / "agent.yaml", doc)
    progress = RegistryProgress(work / "data")
    return run_agent("agent file -> null", config, lines, size, progress.poll, target=size)


def run_null(lines: int, keep: bool = False) -> Report:
    """Scenario `null`."""
    log = ensure_input(lines)
    work = workdir("null")
    report = Report("null", f"file -> nginx rule -> null sink, {lines:,} lines")
    report.measurements.append(agent_file_to_null(log, lines, work))
    report.notes.append("done = checkpoints cover the whole file (checkpoint_interval 100ms)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def run_file(lines: int, keep: bool = False) -> Report:
    """Scenario `file`: the agent next to the bare loop."""
    log = ensure_input(lines)
    work = workdir("file")
    report = Report(
        "file", f"file -> nginx rule -> file sink, {lines:,} lines, next to a bare loop"
    )
    bare = bare_loop(log, lines, work)
    agent = agent_file_to_file(log, lines, work)
    # ECS metadata (ecs.version, agent.*) is on by default: its cost, measured in the same run.
    plain = agent_file_to_file(log, lines, work, "agent, metadata: false", metadata=False)
    builtin = agent_builtin_rule_to_file(log, lines, work)
    report.measurements += [bare, agent, plain, builtin]
    report.notes.append(
        f"agent / bare loop: {agent.lines_per_cpu_s / bare.lines_per_cpu_s:.0%} of the lines "
        f"per CPU-second, {agent.lines_per_s / bare.lines_per_s:.0%} of the wall-clock rate"
    )
    report.notes.append(
        f"ECS metadata on / off: {agent.lines_per_cpu_s / plain.lines_per_cpu_s:.1%} of the "
        f"lines per CPU-second"
    )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", nargs="?", default="all", choices=["null", "file", "all"])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folders in benchmarks/out"
    )
    args = parser.parse_args()
    if args.scenario in ("null", "all"):
        print(run_null(args.lines, args.keep).text(), flush=True)
    if args.scenario in ("file", "all"):
        print(run_file(args.lines, args.keep).text(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
