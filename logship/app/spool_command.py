"""`logship spool`: what each sink's disk spool holds, and whether every frame checks out.

Reads `<data_dir>/spool/*/` without the data folder's lock (works with the agent running or
not) and changes nothing: a damaged frame is reported here and cut off by the agent at its next
start. Exit code 1 with `--verify` when a frame does not check out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from logship.deliver.spool.inspect import SpoolSummary, spool_folders, summarize

EXIT_OK = 0
EXIT_FAILURE = 1


def add_parser(sub: Any, load_data_dir: Any) -> None:
    """Adds `spool` to the CLI's subcommands; `load_data_dir(args)` gives the data folder
    (None when the config does not load: the message is printed)."""
    spool = sub.add_parser(
        "spool",
        help="show each sink's disk spool: size, records, oldest record, last delivery error",
    )
    where = spool.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="agent config file (YAML): its agent.data_dir")
    where.add_argument("--data-dir", help="the agent's data folder (no config needed)")
    spool.add_argument("--verify", action="store_true", help="check every frame's checksum")
    spool.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    spool.set_defaults(handler=lambda args: run(args, load_data_dir(args)))


def run(args: argparse.Namespace, data_dir: Path | None) -> int:
    """Prints the summaries; 1 when `--verify` found damage (or the config did not load: 2)."""
    if data_dir is None:
        return 2
    summaries = [summarize(f, verify=args.verify) for f in spool_folders(data_dir / "spool")]
    if args.json:
        doc = {"data_dir": str(data_dir), "spools": [s.to_json() for s in summaries]}
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    elif not summaries:
        print(f"No spools in {data_dir} (no sink has `spool:`, or it never lagged).")
    else:
        print(render(summaries))
    damaged = [p for s in summaries for p in s.problems]
    for problem in damaged:
        print(f"damaged: {problem}", file=sys.stderr)
    if args.verify and not args.json:
        print(
            "verify: every frame checks out"
            if not damaged
            else f"verify: {len(damaged)} problem(s)"
        )
    return EXIT_FAILURE if args.verify and damaged else EXIT_OK


def render(summaries: list[SpoolSummary], now: float | None = None) -> str:
    """A fixed-width table: SINK BYTES RECORDS OLDEST LAST_DELIVERY LAST_ERROR."""
    now = time.time() if now is None else now
    header = ("SINK", "BYTES", "RECORDS", "OLDEST", "LAST_DELIVERY", "LAST_ERROR")
    body = [
        (
            s.name,
            str(s.nbytes),
            str(s.records),
            _ago(now - s.oldest) if s.oldest else "-",
            _ago(now - s.last_delivery_at) if s.last_delivery_at else "-",
            s.last_error or "-",
        )
        for s in summaries
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in [header, *body]
    )


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit} ago"
    return f"{seconds:.0f}s ago"
