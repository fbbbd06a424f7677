"""Proof, through the whole agent: hostile files ship every byte or count it, and nothing crashes.

Three inputs read three files full of what breaks naive shippers: random bytes (seeded), invalid
UTF-8, NUL bytes, CRLF and lone CR, a 10 MiB line, lines just over max_line_bytes, and a last
line without a newline; one plain, one with container (CRI) decoding and garbage lines among
the CRI ones, one in multiline mode with a 10 MiB stack frame. Checked:

- plain input: the records are exactly the model's lines (offset, text, truncated flag), and
  the agent's own metrics satisfy the accounting identity
      logship_input_bytes_total = bytes of the lines shipped + logship_input_bytes_truncated_total
                                  + line terminators
  with logship_input_lines_total, _lines_truncated_total and _partial_lines_flushed_total
  matching the model too;
- container and multiline inputs: the records are exactly what their stages make of the file
  (the stages themselves are proven against models by the test_fuzz_* modules);
- the agent is still running, and stops cleanly.
"""

from __future__ import annotations

import random
from pathlib import Path

from logship.tail.stages import LineStages
from tests.harness import AgentProcess, read_ndjson, wait_until, write_config
from tests.prove.endpoint import base_url, scrape, value
from tests.prove.stage_model import model_lines, run_stages
from tests.prove.stage_model import settings as input_settings

LIMIT = 64 * 1024
BIG = 10 << 20


def hostile_bytes(rng: random.Random) -> bytes:
    parts = [
        b"plain ascii line\n",
        b"crlf line\r\n",
        b"lone \r carriage return\n",
        b"nul \x00 byte\n",
        b"invalid \xff\xfe utf-8 \xc3 \xe2\x82\n",
        "valid é € 😀\n".encode(),
        b"\n",
        b"\r\n",
        b"just over " + b"o" * LIMIT + b"\n",
        b"exactly " + b"e" * (LIMIT - len(b"exactly ")) + b"\r\n",
        b"ten mib " + b"m" * BIG + b"\n",
    ]
    for _ in range(200):
        parts.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 400))))
    rng.shuffle(parts)
    return b"".join(parts) + b"last line without newline \xf0\x9f"


def cri(rng: random.Random) -> bytes:
    out = []
    for i in range(300):
        kind = rng.random()
        if kind < 0.6:
            out.append(f"2026-11-24T10:00:{i % 60:02}.000000001Z stdout F message {i}\n".encode())
        elif kind < 0.8:
            out.append(b"2026-11-24T10:00:00Z stderr P part-a \xe2\x82")
            out.append(b"\n2026-11-24T10:00:00Z stderr F \xac part-b\n")
        else:
            out.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200))) + b"\n")
    return b"".join(out)


def java(rng: random.Random) -> bytes:
    out = []
    for i in range(100):
        out.append(f"2026-11-24 10:00:00 ERROR failure {i}\n".encode())
        for _ in range(rng.randrange(0, 5)):
            out.append(b"\tat com.example.X.y(X.java:1)\n")
        if i == 50:
            out.append(b"\tat " + b"z" * BIG + b"\n")
    return b"".join(out)


def test_hostile_files_ship_every_byte_or_count_it_through_the_whole_agent(
    tmp_path: Path, agents: list[AgentProcess], seed: int
) -> None:
    rng = random.Random(seed)
    logs = tmp_path / "logs"
    for name in ("plain", "cri", "java"):
        (logs / name).mkdir(parents=True)
    files = {
        "plain": (logs / "plain" / "a.log", hostile_bytes(rng), {}),
        "cri": (logs / "cri" / "a.log", cri(rng), {"container": "cri"}),
        "java": (
            logs / "java" / "a.log",
            java(rng),
            {"multiline": {"preset": "java_stacktrace", "max_bytes": "32MiB"}},
        ),
    }
    for path, data, _ in files.values():
        path.write_bytes(data)
    out = tmp_path / "out" / "logs.ndjson"
    inputs = [
        {
            "name": name,
            "paths": [str(path)],
            "max_line_bytes": LIMIT if name != "java" else 16 << 20,
            "partial_line_timeout": "300ms",
            "poll_interval": "50ms",
            **extra,
        }
        for name, (path, _, extra) in files.items()
    ]
    config = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {
                "data_dir": str(tmp_path / "data"),
                "workers": 1,
                "http": {"address": "127.0.0.1:0"},
            },
            "inputs": inputs,
            "sinks": [
                {"name": "out", "type": "file", "path": str(out), "batch": {"linger_ms": 10}}
            ],
        },
    )
    expected = {}
    for name, (path, data, extra) in files.items():
        settings = input_settings(inputs[list(files).index(name)]["max_line_bytes"], **extra)
        events = run_stages(LineStages(0, settings), [data])
        expected[str(path)] = list(zip(events.starts, events.texts, strict=True))
    total = sum(len(v) for v in expected.values())

    agent = AgentProcess(config).start()
    agents.append(agent)
    base = base_url(agent)
    wait_until(lambda: len(read_ndjson(out)) >= total, timeout=120, message=f"{total} records")
    samples = scrape(base)
    assert agent.running()
    assert agent.stop() == 0

    records = read_ndjson(out)
    assert len(records) == total
    for path, events in expected.items():
        got = sorted(
            (r["log"]["offset"], r["message"]) for r in records if r["log"]["file"]["path"] == path
        )
        assert got == events, f"records of {path} differ from what its stages make"

    plain_path, plain_data, _ = files["plain"]
    model = model_lines(plain_data, LIMIT)
    flags = {
        r["log"]["offset"]: "truncated" in r["log"].get("flags", [])
        for r in records
        if r["log"]["file"]["path"] == str(plain_path)
    }
    assert flags == {m.start: m.truncated for m in model}

    def metric(name: str) -> float:
        return value(samples, name, input="plain")

    assert metric("logship_input_bytes_total") == len(plain_data)
    assert metric("logship_input_lines_total") == len(model)
    assert metric("logship_input_lines_truncated_total") == sum(m.truncated for m in model)
    assert metric("logship_input_bytes_truncated_total") == sum(m.cut for m in model)
    assert metric("logship_input_partial_lines_flushed_total") == 1
    assert metric("logship_input_bytes_total") == (
        sum(m.kept for m in model)
        + metric("logship_input_bytes_truncated_total")
        + sum(m.terminator for m in model)
    )
