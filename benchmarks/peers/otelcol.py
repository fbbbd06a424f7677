"""The OpenTelemetry Collector doing the agent's work: filelog -> regex_parser -> otlphttp.

The filelog receiver reads the log from the beginning; its `regex_parser` operator runs the
agent's own `NGINX_RULE` regex (RE2 takes Python's `(?P<name>)` groups) into the record's
attributes and reads the nginx time into the record's timestamp, as the agent does. This build
has no transform processor, so two `add` operators with `EXPR(int(...))` turn status and bytes
into integers. The batch processor groups records; the otlphttp exporter sends them as protobuf
to a local receiver (`otlp_receiver.py`) that counts them while the race runs and writes them
out afterwards for the verifier. This build has no Kafka, Elasticsearch or file exporter: the
Collector races on the file scenario only.

Settings a competent user would choose, and why:
- `encoding: proto`: protobuf costs the Collector less CPU than OTLP/JSON (11.1 vs 14.5 CPU-s
  per million lines measured here);
- `compression: none`: the receiver is on 127.0.0.1, gzip would only burn CPU on both sides;
- the batch processor with its defaults (8192 records or 200 ms), as recommended for every
  pipeline; no memory_limiter (it only adds a check per batch, and the run is bounded);
- `start_at: beginning` (the default `end` would skip the existing lines);
- `service.telemetry.metrics.level: none`: no Prometheus endpoint on :8888 (no listener, and
  no clash with another run), logs at `warn`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmarks.nginx_log import NGINX_RULE
from benchmarks.peers.install import Peer

TIME_LAYOUT = "%d/%b/%Y:%H:%M:%S %z"


def config(log: Path, endpoint: str) -> dict[str, Any]:
    """The Collector's config for one run: `log` in, OTLP/HTTP protobuf to `endpoint`."""
    operators: list[dict[str, Any]] = [
        {
            "type": "regex_parser",
            "regex": str(NGINX_RULE["regex"]),
            "timestamp": {
                "parse_from": "attributes.time",
                "layout_type": "strptime",
                "layout": TIME_LAYOUT,
            },
        },
        *(
            {"type": "add", "field": f"attributes.{name}", "value": f"EXPR(int(attributes.{name}))"}
            for name in ("status", "bytes")
        ),
    ]
    return {
        "receivers": {
            "filelog": {"include": [str(log)], "start_at": "beginning", "operators": operators}
        },
        "processors": {"batch": {}},
        "exporters": {
            "otlphttp": {"endpoint": endpoint, "encoding": "proto", "compression": "none"}
        },
        "service": {
            "telemetry": {"logs": {"level": "warn"}, "metrics": {"level": "none"}},
            "pipelines": {
                "logs": {
                    "receivers": ["filelog"],
                    "processors": ["batch"],
                    "exporters": ["otlphttp"],
                }
            },
        },
    }


def prepare(log: Path, endpoint: str, state: Path) -> Path:
    """Writes the config into `state` (created); returns its path."""
    state.mkdir(parents=True, exist_ok=True)
    path = state / "otelcol.yaml"
    path.write_text(yaml.safe_dump(config(log, endpoint), sort_keys=False))
    return path


def command(peer: Peer, conf: Path) -> list[str]:
    """The Collector in the foreground with this config."""
    return [str(peer.binary), *peer.args, f"--config={conf}"]


def check_command(peer: Peer, conf: Path) -> list[str]:
    """The Collector's config check (`validate`): builds the pipeline without running it."""
    return [str(peer.binary), *peer.args, "validate", f"--config={conf}"]
