"""The `logship` command: run, check, setup, status, version."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import yaml

from logship import __version__
from logship.config import Config
from logship.config_file import ConfigError, load_config
from logship.pipeline import StartupError
from logship.secrets import mask_secrets, secret_values
from logship.selflog import configure as configure_logging

log = logging.getLogger("logship.cli")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    handler: int = args.handler(args)
    return handler


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logship",
        description="Tail log files, parse them, ship JSON records without losing a line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent")
    run.add_argument("-c", "--config", required=True, help="agent config file (YAML)")
    run.set_defaults(handler=_cmd_run)

    check = sub.add_parser(
        "check", help="validate a config; print it resolved and the files each input matches"
    )
    check.add_argument("-c", "--config", required=True, help="agent config file (YAML)")
    check.set_defaults(handler=_cmd_check)

    setup = sub.add_parser(
        "setup", help="prepare a sink's target (templates, ILM policy, Kibana data view)"
    )
    setup.add_argument("target", choices=["elasticsearch"], help="what to set up")
    setup.add_argument("-c", "--config", required=True, help="agent config file (YAML)")
    setup.add_argument("--sink", help="only this sink (default: every sink of that type)")
    setup.set_defaults(handler=_cmd_setup)

    status = sub.add_parser(
        "status",
        help="show checkpointed files: size now, acknowledged offset, lag (agent running or not)",
    )
    where = status.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="agent config file (YAML): its agent.data_dir")
    where.add_argument("--data-dir", help="the agent's data folder (no config needed)")
    status.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    status.set_defaults(handler=_cmd_status)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda args: _cmd_version())
    return parser


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"logship: {exc}", file=sys.stderr)
        return None


def _cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    configure_logging(config.agent.log_level, secret_values(config.model_dump(mode="json")))
    from logship.agent import Agent  # imported late: `check` and `version` stay light

    try:
        return Agent(config).run()
    except StartupError as exc:
        log.error("Cannot start.", extra={"error": str(exc)})
        print(f"logship: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _cmd_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from logship.discovery import FileFinder

    resolved = mask_secrets(config.model_dump(mode="json"))
    print(f"# {args.config}: valid. Resolved config (secrets masked):")
    print(yaml.safe_dump(resolved, sort_keys=False, default_flow_style=False).rstrip())
    print("\n# Files each input matches now:")
    for inp in config.inputs:
        files = FileFinder(inp.paths, inp.exclude).scan()
        print(f"{inp.name}: {len(files)} file(s)")
        for path in files:
            print(f"  {path}")
        if not files:
            print("  (none yet: the agent will pick them up when they appear)")
    return EXIT_OK


def _cmd_setup(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from sinks.elasticsearch.config import ElasticsearchSinkSettings
    from sinks.elasticsearch.setup import SetupError, run_setup

    sinks = [
        s
        for s in config.sinks
        if isinstance(s, ElasticsearchSinkSettings) and args.sink in (None, s.name)
    ]
    if not sinks:
        which = f"named {args.sink!r} " if args.sink else ""
        print(f"logship: {args.config} has no elasticsearch sink {which}to set up", file=sys.stderr)
        return EXIT_CONFIG
    for sink in sinks:
        print(f"# sink {sink.name}")
        try:
            run_setup(sink, config.parsers, print)
        except SetupError as exc:
            print(f"logship: setup of sink {sink.name} failed: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from pathlib import Path

    import orjson

    from logship.checkpoint import CheckpointError
    from logship.status import registry_rows, render_table

    if args.config is not None:
        config = _load(args.config)
        if config is None:
            return EXIT_CONFIG
        data_dir = Path(config.agent.data_dir)
    else:
        data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        print(
            f"logship: data folder {data_dir} does not exist (the agent never ran?)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        rows = registry_rows(data_dir)
    except CheckpointError as exc:
        print(f"logship: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        doc = {"data_dir": str(data_dir), "files": [row.to_json() for row in rows]}
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    elif rows:
        print(render_table(rows))
    else:
        print(f"No checkpoints yet in {data_dir}.")
    return EXIT_OK


def _cmd_version() -> int:
    print(f"logship {__version__}")
    return EXIT_OK
