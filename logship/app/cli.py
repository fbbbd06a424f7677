"""The `logship` command: run, check, parse, alerts, setup, status, spool, version."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from logship import __version__
from logship.app.config import Config
from logship.app.config_file import ConfigError, load_config
from logship.app.pipeline import StartupError
from logship.core.secrets import mask_secrets, secret_values
from logship.observe.selflog import configure as configure_logging
from logship.tail.settings import InputSettings

log = logging.getLogger("logship.app.cli")

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
    parser.add_argument(
        "--version", action="version", version=f"logship {__version__}", help="print the version"
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

    parse = sub.add_parser(
        "parse",
        help="run a log through an input's stages and parser rules; print what `run` would ship",
        description="Runs LOGFILE (or stdin) through an input as the agent does (container "
        "unwrapping, multiline, the parser chain, drop_if, redaction) and prints the records as "
        "JSON lines on stdout, then a summary per rule, in events, on stderr. "
        "Touches no agent state: use it to try rules before deploying them.",
    )
    parse.add_argument("-c", "--config", required=True, help="agent config file (YAML)")
    parse.add_argument(
        "--input",
        metavar="NAME",
        help="the input whose stages and rules run (default: the config's only input)",
    )
    parse.add_argument("logfile", nargs="?", default="-", help="log file to read ('-': stdin)")
    parse.add_argument("--strict", action="store_true", help="exit 1 if any line matched no rule")
    parse.add_argument(
        "--summary-only", action="store_true", help="print only the summary, not the records"
    )
    parse.set_defaults(handler=_cmd_parse)

    alerts = sub.add_parser(
        "alerts",
        help="show which alert rules would fire on a log file, and when",
        description="Runs LOGFILE (or stdin) through an input's parser rules and the alert rules "
        "that apply to it, with the records' own @timestamp as the clock, and prints every "
        "notification that would be sent (time, status, rule, severity, group, message), then a "
        "summary per rule on stderr. Sends nothing and touches no agent state.",
    )
    alerts.add_argument("-c", "--config", required=True, help="agent config file (YAML)")
    alerts.add_argument(
        "--input", metavar="NAME", help="the input the log is for (default: the only input)"
    )
    alerts.add_argument("logfile", nargs="?", default="-", help="log file to read ('-': stdin)")
    alerts.add_argument(
        "--json", action="store_true", help="notifications as JSON lines (the webhook body)"
    )
    alerts.set_defaults(handler=_cmd_alerts)

    from logship.app import spool_command

    spool_command.add_parser(sub, _data_dir_of)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda args: _cmd_version())
    return parser


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"logship: {exc}", file=sys.stderr)
        return None


def _data_dir_of(args: argparse.Namespace) -> Path | None:
    """`--data-dir`, or the config's `agent.data_dir` (None when the config does not load)."""
    if args.config is None:
        return Path(args.data_dir)
    config = _load(args.config)
    return None if config is None else Path(config.agent.data_dir)


def _load_input(path: str, name: str | None) -> tuple[Config, InputSettings] | None:
    """The config and its input `name` (None: the config's only input); None (the problem
    printed) when either is missing."""
    config = _load(path)
    if config is None:
        return None
    inputs = {inp.name: inp for inp in config.inputs}
    if name is None:
        if len(inputs) == 1:
            return config, config.inputs[0]
        print(
            f"logship: {path} has {len(inputs)} inputs: name one with --input "
            f"({', '.join(inputs)})",
            file=sys.stderr,
        )
        return None
    inp = inputs.get(name)
    if inp is None:
        print(
            f"logship: no input named {name!r} in {path} (inputs: {', '.join(inputs)})",
            file=sys.stderr,
        )
        return None
    return config, inp


def _cmd_run(args: argparse.Namespace) -> int:
    from logship.app.readiness import StartReport

    report = StartReport.from_env()  # a worker says whether it started; a no-op otherwise
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"logship: {exc}", file=sys.stderr)
        report.failed(str(exc))
        return EXIT_CONFIG
    secrets = secret_values(config.model_dump(mode="json"))
    # imported late: `check` and `version` stay light
    from logship.app.agent import Agent
    from logship.app.supervisor import SUPERVISOR_ENV, WORKER_ENV, Supervisor, resolve_workers
    from logship.state.shard import Shard

    try:
        worker = os.environ.get(WORKER_ENV)
        if worker:  # started by a supervisor: one shard of the files
            from logship.core.process import die_with_parent

            shard = Shard.parse(worker)
            configure_logging(config.agent.log_level, secrets, {"worker": shard.index})
            if not die_with_parent(int(os.environ.get(SUPERVISOR_ENV, os.getppid()))):
                log.error("The supervisor is gone; this worker does not start on its own.")
                return EXIT_FAILURE
            agent = Agent(
                config, shard=shard, config_path=Path(args.config), on_started=report.ready
            )
            return agent.run()
        configure_logging(config.agent.log_level, secrets)
        count = resolve_workers(config)
        if count == 1:
            return Agent(config, config_path=Path(args.config)).run()
        path = Path(args.config).resolve()
        # A forked worker runs `logship run` as a new process would: reads the config, then
        # takes the worker branch above (LOGSHIP_WORKER in its environment).
        fork_entry = functools.partial(main, ["run", "-c", str(path)])
        return Supervisor(config, path, count, fork_entry).run()
    except StartupError as exc:
        log.error("Cannot start.", extra={"error": str(exc)})
        _print_cannot_start(str(exc))
        report.failed(str(exc))
        return EXIT_FAILURE


def _print_cannot_start(problem: str) -> None:
    """What `run` prints when it cannot start, and `check` when it finds why `run` would not."""
    print(f"logship: cannot start: {problem}", file=sys.stderr)


def _cmd_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from logship.tail.discovery import FileFinder

    resolved = mask_secrets(config.model_dump(mode="json"))
    print(f"# {args.config}: valid. Resolved config (secrets masked):")
    print(yaml.safe_dump(resolved, sort_keys=False, default_flow_style=False).rstrip())
    print("\n# Files each input matches now:")
    for inp in config.inputs:
        finder = FileFinder(inp.paths, inp.exclude, inp.follow_symlinks)
        files = finder.scan()
        print(f"{inp.name}: {len(files)} file(s)")
        for path in files:
            print(f"  {path}")
        if not files:
            print("  (none yet: the agent will pick them up when they appear)")
        for path, target in sorted(finder.outside_links.items()):
            print(
                f"  not followed (leads out of the input's folders, see follow_symlinks): {path} -> {target}"
            )
    _print_parse_paths(config)
    return _run_start_up_checks(config)


_PATHS = {
    "compiled": "compiled scanner (C): the rule needs no regex engine",
    "python": "generated fast loop (Python)",
    "general": "general path (several rules, json/logfmt, drop_if, redaction or keep_original)",
}


_ALERT_PATHS = {
    "compiled": "decided in the compiled scanner (C)",
    "python": "decided in the generated fast loop (Python)",
    "general": "decided on every record after parsing",
}


def _print_parse_paths(config: Config) -> None:
    """How each input's plain lines are parsed (docs/parser-rules.md, the fast path), and where
    its alert rules' conditions are decided (docs/alerts.md, "Cost"): a rule outside the
    compiled scanner's subset shows here, not as an error."""
    from parsers.chain import build_chains
    from parsers.selection import Selection

    print(
        "\n# How each input's plain lines are parsed, when its sinks take NDJSON (multiline and"
        " container lines take the Python paths; docs/parser-rules.md):"
    )
    for name, chain in build_chains(config).items():
        print(f"{name}: {_PATHS[chain.path]}")
        rules = [r for r in config.alerts.rules if not r.inputs or name in r.inputs]
        if rules:
            select = Selection([r.when for r in rules], keys=[r.group_by for r in rules])
            where = _ALERT_PATHS[chain.selecting_path(select)]
            count = f"{len(rules)} rule" + ("s" if len(rules) != 1 else "")
            print(f"{name}: alert conditions ({count}) {where}")


def _run_start_up_checks(config: Config) -> int:
    """The checks `run` makes before it starts (logship.app.preflight), plus the HTTP port."""
    from logship.app.preflight import NETWORK_NOTE, problems

    found = problems(config, ports=True)
    fatal = [p.message for p in found if p.fatal]
    print(
        "\n# Start-up checks (data folder, sink paths, TLS files, GeoIP databases, ECS field names,"
        " kubeconfig, HTTP address):"
    )
    for problem in found:
        if not problem.fatal:
            print(f"warning: {problem.message}")
    print(f"# Not checked: {NETWORK_NOTE}.")
    if fatal:
        print(f"{len(fatal)} problem(s): `logship run` would not start (see stderr).")
        _print_cannot_start("\n".join(fatal))
        return EXIT_FAILURE
    print("ok, with the warning(s) above" if found else "ok")
    return EXIT_OK


def _cmd_setup(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from logship.core.metadata import known_datasets
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
            run_setup(sink, config.parsers.rules, print, known_datasets(config))
        except SetupError as exc:
            print(f"logship: setup of sink {sink.name} failed: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from pathlib import Path

    import orjson

    from logship.app.status import registry_rows, render_table
    from logship.state.checkpoint import CheckpointError

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


def _cmd_parse(args: argparse.Namespace) -> int:
    """`logship parse`: the input's stages and chain over a file or stdin (logship.app.parse_command)."""
    from logship.app import parse_command
    from parsers.chain import build_chains

    loaded = _load_input(args.config, args.input)
    if loaded is None:
        return EXIT_CONFIG
    config, inp = loaded
    from logship.app.enrich_wiring import attach_enrichment
    from logship.state.data_dir import StartupError

    try:
        chain = attach_enrichment(config, build_chains(config))[inp.name]
    except StartupError as exc:
        _print_cannot_start(str(exc))
        return EXIT_CONFIG
    try:
        stream = sys.stdin.buffer if args.logfile == "-" else open(args.logfile, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"logship: cannot read {args.logfile}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        totals = parse_command.run(stream, args.logfile, inp, chain, not args.summary_only)
    except BrokenPipeError:  # `logship parse ... | head`: fine, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    if args.strict and totals.stats.unmatched:
        return EXIT_FAILURE
    return EXIT_OK


def _cmd_alerts(args: argparse.Namespace) -> int:
    """`logship alerts`: replay a log through the alert rules (logship.observe.alerts.preview)."""
    import orjson

    from logship.observe.alerts.presets import webhook
    from logship.observe.alerts.preview import render_line, run_preview
    from parsers.chain import build_chains

    loaded = _load_input(args.config, args.input)
    if loaded is None:
        return EXIT_CONFIG
    config, inp = loaded
    rules = [r for r in config.alerts.rules if not r.inputs or inp.name in r.inputs]
    if not rules:
        print(f"logship: no alert rule applies to input {inp.name!r}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        stream = sys.stdin.buffer if args.logfile == "-" else open(args.logfile, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"logship: cannot read {args.logfile}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    path = "-" if args.logfile == "-" else os.path.abspath(args.logfile)
    with stream:
        result = run_preview(
            rules, inp, build_chains(config)[inp.name], stream, path, config.agent.host_name
        )
    for notification in result.notifications:
        if args.json:
            doc = {**webhook(notification), "after_end": result.after_end(notification)}
            print(orjson.dumps(doc).decode())
        else:
            print(render_line(notification, result.after_end(notification)))
    err = sys.stderr
    source = "stdin" if args.logfile == "-" else args.logfile
    print(f"# {result.events} event(s) from {source}, input {inp.name!r}", file=err)
    print(f"#   {'rule':24} {'matched':>8} {'late':>6} {'firing':>7} {'resolved':>8}", file=err)
    for row in result.counters:
        print(
            f"#   {row['rule']:24} {row['matches']:>8} {row['late']:>6} {row['firing']:>7} "
            f"{row['resolved']:>8}",
            file=err,
        )
    return EXIT_OK


def _cmd_version() -> int:
    print(f"logship {__version__}")
    return EXIT_OK
