"""Conservation end to end: real tracebacks and Java traces keep every line in their records,
and `logship parse` prints exactly what `logship run` ships.

Python tracebacks are written by `logging.exception` itself; the Java traces are Kafka's own
logs from the shared corpora. Both go through the agent's stage code (`logship.tail.stages`, as
`logship parse` and the tailer run it) with a config loaded like the agent loads it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from logship.app.config_file import load_config
from logship.app.parse_command import parse_stream
from parsers.chain import PARSE_FAILURE, build_chains
from tests.harness import (
    AgentProcess,
    config_doc,
    count_lines,
    read_ndjson,
    run_cli,
    wait_until,
    write_config,
)

PY_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
KAFKA_RULE = {
    "name": "kafka_test",
    # `$`-anchored on the logger in parentheses: only a first-line match can succeed.
    "regex": r"^\[(?P<kafka.time>[^\]]+)\] (?P<log.level>[A-Z]+) (?P<message>.*) \((?P<log.logger>[^()]*)\)$",
    "timestamp": {"field": "kafka.time", "format": "%Y-%m-%d %H:%M:%S,%f"},
}


class _Recorder(logging.FileHandler):
    """A file handler that also keeps what each record was expected to ship as message."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.setFormatter(logging.Formatter(PY_FORMAT))
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)  # formats, and sets record.exc_text from exc_info
        text = record.getMessage()
        if record.exc_text:
            text += "\n" + record.exc_text
        self.messages.append(text)


def _lookup(orders: dict[int, str], n: int) -> str:
    return orders[n]


def write_python_log(path: Path) -> list[str]:
    """A log written by Python's logging with tracebacks; returns each event's message."""
    handler = _Recorder(path)
    logger = logging.getLogger(f"shop.orders.{path.stem}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        for i in range(6):
            logger.info("processing order %d", i)
            try:
                _lookup({}, i)
            except KeyError:
                logger.exception("lookup failed for order %d", i)
        try:
            try:
                _lookup({}, 99)
            except KeyError as exc:
                raise RuntimeError("order store inconsistent") from exc
        except RuntimeError:
            logger.exception("giving up")
        try:
            try:
                int("x")
            except ValueError:
                _lookup({}, 7)  # "During handling of the above exception..."
        except KeyError:
            logger.error("nested failure", exc_info=True)
        logger.warning("done")
    finally:
        logger.removeHandler(handler)
        handler.close()
    return handler.messages


def config_for(tmp_path: Path, parsers: list[str], preset: str, **extra: Any) -> Path:
    (tmp_path / "logs").mkdir(exist_ok=True)
    doc = config_doc(
        tmp_path,
        input={
            "parsers": parsers,
            "multiline": {"preset": preset, "flush_timeout": "200ms"},
            **extra,
        },
        parsers=[KAFKA_RULE],
    )
    return write_config(tmp_path / "agent.yaml", doc)


def parse_like_the_agent(config: Path, log: Path) -> list[dict[str, Any]]:
    """The records of `log` through the config's only input, by the agent's stage code."""
    loaded = load_config(config)
    inp = loaded.inputs[0]
    out = io.BytesIO()
    with log.open("rb") as stream:
        parse_stream(stream, str(log), inp, build_chains(loaded)[inp.name], out)
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def events_of(data: bytes, records: list[dict[str, Any]]) -> Iterator[tuple[list[str], Any]]:
    """Each record with the lines of the event it was made from (by `log.offset`)."""
    starts = [r["log"]["offset"] for r in records] + [len(data)]
    assert starts == sorted(starts)
    assert starts[0] == 0
    for rec, start, end in zip(records, starts, starts[1:], strict=False):
        yield data[start:end].decode().rstrip("\n").split("\n"), rec


def assert_conserved(data: bytes, records: list[dict[str, Any]]) -> int:
    """Every line of the file is in the record of its event: the first line's message (or the
    whole line), then every continuation line, exactly and in order. Returns the events that
    had continuation lines."""
    joined = 0
    for lines, rec in events_of(data, records):
        message = rec["message"]
        if PARSE_FAILURE in rec.get("tags", []):
            assert message == "\n".join(lines)
            continue
        first, _, rest = message.partition("\n")
        assert first in lines[0]
        assert rest == "\n".join(lines[1:]), f"continuation lost for {lines[0]!r}"
        joined += len(lines) > 1
    return joined


def test_python_tracebacks_from_logging_exception_reach_the_message_whole(tmp_path: Path) -> None:
    config = config_for(tmp_path, ["python_logging_timestamped"], "python_traceback")
    log = tmp_path / "logs" / "app.log"
    expected = write_python_log(log)
    records = parse_like_the_agent(config, log)
    assert [r["message"] for r in records] == expected
    assert all("tags" not in r for r in records)
    failed = [r for r in records if r["message"].startswith("lookup failed")]
    assert len(failed) == 6
    assert failed[0]["log"]["level"] == "error"
    assert failed[0]["log"]["flags"] == ["multiline"]
    assert failed[0]["message"].endswith("KeyError: 0")
    chained = next(r for r in records if r["message"].startswith("giving up"))
    assert "The above exception was the direct cause" in chained["message"]
    assert chained["message"].endswith("RuntimeError: order store inconsistent")
    assert assert_conserved(log.read_bytes(), records) == 8


def test_keep_original_holds_each_whole_traceback_event(tmp_path: Path) -> None:
    config = config_for(
        tmp_path, ["python_logging_timestamped"], "python_traceback", keep_original=True
    )
    log = tmp_path / "logs" / "app.log"
    write_python_log(log)
    records = parse_like_the_agent(config, log)
    data = log.read_bytes()
    for lines, rec in events_of(data, records):
        assert rec["event"]["original"] == "\n".join(lines)


@pytest.mark.parametrize(
    ("rule", "preset"),
    [("kafka_test", "java_stacktrace"), ("kafka", "java_bracket")],  # a user's rule; the built-in
)
@pytest.mark.parametrize("name", ["kafka_server.log", "kafka_controller.log"])
def test_kafka_java_traces_keep_every_frame(
    tmp_path: Path, corpora: Path, name: str, rule: str, preset: str
) -> None:
    config = config_for(tmp_path, [rule], preset)
    log = corpora / "elastic-examples" / name
    records = parse_like_the_agent(config, log)
    data = log.read_bytes()
    joined = assert_conserved(data, records)
    traces = [r for r in records if "\n\tat " in r["message"]]
    assert joined > 0
    assert len(traces) == joined
    assert all(r["log"]["logger"] for r in traces)  # the `$` anchor matched the first line
    assert not [r for r in records if "tags" in r]  # every event matched its first line
    for lines, rec in events_of(data, records):
        if "tags" not in rec:  # the first line's text is in the fields the rule captured
            first = rec["message"].partition("\n")[0]
            assert lines[0].endswith(f" {first} ({rec['log']['logger']})")
            assert rec["@timestamp"].startswith("2016-12-")


def test_parse_prints_exactly_the_records_run_ships_for_a_multiline_file(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    config = config_for(tmp_path, ["python_logging_timestamped"], "python_traceback")
    log = tmp_path / "logs" / "app.log"
    expected = write_python_log(log)
    out = tmp_path / "out" / "logs.ndjson"
    agent = AgentProcess(config).start()
    agents.append(agent)
    wait_until(lambda: count_lines(out) >= len(expected), timeout=60, message="every event shipped")
    assert agent.stop() == 0
    shipped = read_ndjson(out)

    # One input in the config: no --input needed.
    result = run_cli("parse", "-c", str(config), str(log))
    assert result.returncode == 0, result.stderr
    printed = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert printed == shipped
    assert [r["message"] for r in printed] == expected
    lines = log.read_bytes().count(b"\n")
    assert f"# {len(expected)} event(s) from {lines} line(s) of" in result.stderr


@pytest.mark.parametrize(
    ("name", "rule", "multiline"),
    [
        ("syslog-darwin-multiline.log", "syslog_rfc3164", {"preset": "indented_continuation"}),
        # nginx error events start with a date; FastCGI's `PHP message:` lines continue them.
        ("nginx-error.log", "nginx_error", {"pattern": r"^\d{4}/\d\d/\d\d ", "negate": True}),
    ],
)
def test_filebeat_multiline_fixtures_keep_every_continuation_line(
    tmp_path: Path, corpora: Path, name: str, rule: str, multiline: dict[str, Any]
) -> None:
    config = config_for(tmp_path, [rule], "indented_continuation")
    doc = yaml.safe_load(config.read_text())
    doc["inputs"][0]["multiline"] = multiline
    config.write_text(yaml.safe_dump(doc))
    log = corpora / "filebeat" / name
    records = parse_like_the_agent(config, log)
    assert assert_conserved(log.read_bytes(), records) > 0
