"""Elastic Filebeat doing the agent's work: filestream -> dissect -> timestamp -> file or Kafka.

Filebeat has no processor that captures named regex groups (besides a JavaScript `script`,
far slower), so the nginx rule becomes a `dissect` tokenizer: the same ten fields under the
same names, cut at the same delimiters, `|integer` making status and bytes JSON numbers, and
`target_prefix: ""` putting them at the top level like the agent's record. The `timestamp`
processor reads the nginx time into `@timestamp`, as the agent does (Filebeat would otherwise
stamp the read time). Filebeat adds its own metadata to every event (`agent`, `ecs`, `host`,
`input`, `log.file.path`, `log.offset`, and `@metadata` in its JSON codec); that is how it ships.

Settings a competent user would choose, and why:
- the `filestream` input: faster than the older `log` input (measured 49k vs 43k lines/s);
- `output.file` with `rotate_every_kb` far above the run's output (its default rotates at 10 MiB
  and keeps 7 files, which would delete most of the output);
- `output.kafka` with `required_acks: -1` and `compression: none`, the same delivery guarantee
  and payload as the agent's Kafka sink (Filebeat's defaults are acks from the leader only and
  gzip);
- `logging.level: warning`, `logging.metrics.enabled: false`, `http.enabled: false`: no
  periodic self-report, no listener.
Queue and buffer tuning (`queue.mem.events`, `flush.min_events`, `buffer_size`) changed nothing
measurable here, so they keep their defaults.

The config file is written with mode 0600: Filebeat refuses a config that group or others can
write (and its check is kept on; no `--strict.perms=false`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from benchmarks.peers.install import Peer

TOKENIZER = (
    '%{source_ip} - %{user_name} [%{time}] "%{method} %{url} %{http_version}" '
    '%{status|integer} %{bytes|integer} "%{referrer}" "%{user_agent}"'
)
"""The nginx rule as a dissect pattern: NGINX_RULE's fields, in order, with the same names."""

TIME_LAYOUT = "02/Jan/2006:15:04:05 -0700"
"""Go's reference-time layout for the nginx time (`%d/%b/%Y:%H:%M:%S %z`)."""

OUTPUT_NAME = "filebeat"
"""output.file's `filename`: Filebeat writes `<name>-<yyyymmdd>.ndjson` files."""


def _input(log: Path) -> dict[str, Any]:
    return {
        "type": "filestream",
        "id": "nginx",
        "paths": [str(log)],
        "processors": [
            {"dissect": {"tokenizer": TOKENIZER, "field": "message", "target_prefix": ""}},
            {
                "timestamp": {
                    "field": "time",
                    "layouts": [TIME_LAYOUT],
                    "test": ["24/Nov/2025:16:00:00 +0000"],
                }
            },
        ],
    }


def _base(log: Path) -> dict[str, Any]:
    return {
        "filebeat.inputs": [_input(log)],
        "logging.level": "warning",
        "logging.metrics.enabled": False,
        "http.enabled": False,
    }


def config(log: Path, out_dir: Path) -> dict[str, Any]:
    """filebeat.yml for one run: `log` in, NDJSON files in `out_dir`."""
    doc = _base(log)
    doc["output.file"] = {
        "path": str(out_dir),
        "filename": OUTPUT_NAME,
        "rotate_every_kb": 100_000_000,  # 100 GB: never rotates during a run
        "codec.json": {"pretty": False},
    }
    return doc


def kafka_config(log: Path, bootstrap_servers: str, topic: str) -> dict[str, Any]:
    """The same pipeline into Kafka: one JSON document per message."""
    doc = _base(log)
    doc["output.kafka"] = {
        "hosts": bootstrap_servers.split(","),
        "topic": topic,
        "required_acks": -1,
        "compression": "none",
        "codec.json": {"pretty": False},
    }
    return doc


def write(doc: dict[str, Any], state: Path) -> Path:
    """Writes a config into `state` (created) with mode 0600; returns its path."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "module").mkdir(exist_ok=True)  # an empty modules folder: no "not found" error
    path = state / "filebeat.yml"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def prepare(log: Path, out_dir: Path, state: Path) -> Path:
    """The file -> file config in `state`; `out_dir` created."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return write(config(log, out_dir), state)


def prepare_kafka(log: Path, bootstrap_servers: str, topic: str, state: Path) -> Path:
    """The file -> Kafka config in `state`."""
    return write(kafka_config(log, bootstrap_servers, topic), state)


def _paths(state: Path) -> list[str]:
    return [
        f"--path.home={state}",
        f"--path.config={state}",
        f"--path.data={state / 'data'}",
        f"--path.logs={state / 'logs'}",
    ]


def command(peer: Peer, conf: Path, state: Path) -> list[str]:
    """Filebeat in the foreground (`-e`: its log to stderr), every state file in `state`."""
    return [str(peer.binary), *peer.args, "-e", "-c", str(conf), *_paths(state)]


def check_command(peer: Peer, conf: Path, state: Path) -> list[str]:
    """Filebeat's config check (`test config`): parses and validates without running."""
    return [str(peer.binary), *peer.args, "test", "config", "-c", str(conf), *_paths(state)]


class OutputCounter:
    """Lines in every file Filebeat writes into the output folder (it names them by date)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.offsets: dict[Path, int] = {}
        self.lines = 0

    def poll(self) -> int:
        """The number of complete lines now."""
        for path in sorted(self.out_dir.glob(f"{OUTPUT_NAME}*.ndjson")):
            offset = self.offsets.get(path, 0)
            with path.open("rb") as f:
                f.seek(offset)
                while chunk := f.read(1 << 22):
                    self.lines += chunk.count(b"\n")
                    offset += len(chunk)
            self.offsets[path] = offset
        return self.lines


def gather(out_dir: Path, out: Path) -> Path:
    """The output as one file `out` (Filebeat's files moved or concatenated, in name order)."""
    files = sorted(out_dir.glob(f"{OUTPUT_NAME}*.ndjson"))
    if len(files) == 1:
        files[0].replace(out)
        return out
    with out.open("wb") as whole:
        for path in files:
            with path.open("rb") as part:
                while chunk := part.read(1 << 22):
                    whole.write(chunk)
            path.unlink()
    return out
