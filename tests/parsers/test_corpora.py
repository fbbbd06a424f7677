"""Built-in rules on the real corpora: match rates, and fields against loghub's structured CSVs.

The corpora live outside the repository (tests/conftest.py `corpora` fixture); without them these
tests are skipped. `pytest tests/parsers/test_corpora.py -s` prints every rate.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from logship.core.record import get_field
from logship.tail.framing import LineFramer
from parsers.chain import ChainStats, ParserChain
from parsers.compiler import compile_rule
from parsers.level import normalize_level
from parsers.section import ParsersSettings

# (corpus file, chain, minimum rate of lines matched, what the file is)
RATES: list[tuple[str, list[str], float, str]] = [
    (
        "elastic-examples/apache_access.log",
        ["apache_access"],
        0.99,
        "Apache combined, 10,000 lines",
    ),
    (
        "elastic-examples/apache_access.log",
        ["nginx_access"],
        0.99,
        "the same layout as nginx combined",
    ),
    ("filebeat/nginx-access.log", ["nginx_access"], 0.99, "Filebeat nginx fixtures"),
    (
        "filebeat/nginx-access-test.log",
        ["nginx_access"],
        0.99,
        "X-Forwarded-For lists, IPv6, vhosts",
    ),
    ("filebeat/apache-access-test.log", ["apache_access"], 0.99, "common, combined, vhost, 408s"),
    ("filebeat/apache-error-test.log", ["apache_error"], 0.99, "Apache 2.2 and 2.4 error layouts"),
    ("loghub/Apache/Apache_2k.log", ["apache_error"], 0.99, "Apache error log"),
    ("filebeat/auth-test.log", ["sshd", "sudo", "syslog_rfc3164"], 0.99, "auth log"),
    ("loghub/Linux/Linux_2k.log", ["syslog_rfc3164"], 0.99, "syslog"),
    ("loghub/OpenSSH/OpenSSH_2k.log", ["sshd", "syslog_rfc3164"], 0.99, "sshd in syslog"),
    ("loghub/Mac/Mac_2k.log", ["syslog_rfc3164"], 0.99, "macOS syslog"),
    ("loghub/Hadoop/Hadoop_2k.log", ["java_log4j"], 0.99, "log4j %d{ISO8601} %p [%t] %c: %m"),
    ("loghub/Zookeeper/Zookeeper_2k.log", ["java_log4j"], 0.99, "log4j with ' - ' separators"),
    ("loghub/Spark/Spark_2k.log", ["java_log4j"], 0.99, "log4j %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m"),
    ("loghub/HDFS/HDFS_2k.log", ["hdfs"], 0.99, "HDFS yyMMdd HHmmss pid level logger: msg"),
    ("loghub/OpenStack/OpenStack_2k.log", ["openstack"], 0.99, "oslo.log with request ids"),
    ("loghub/Android/Android_2k.log", ["android_logcat"], 0.99, "logcat -v threadtime"),
    ("loghub/Windows/Windows_2k.log", ["windows_cbs"], 0.99, "Windows CBS.log"),
    ("loghub/Thunderbird/Thunderbird_2k.log", ["thunderbird"], 0.99, "Thunderbird syslog"),
    ("loghub/BGL/BGL_2k.log", ["bgl"], 0.99, "BlueGene/L RAS"),
    ("loghub/HPC/HPC_2k.log", ["hpc"], 0.99, "LANL HPC events"),
    ("loghub/HealthApp/HealthApp_2k.log", ["healthapp"], 0.99, "time|component|pid|msg"),
    ("loghub/Proxifier/Proxifier_2k.log", ["proxifier"], 0.99, "[MM.dd HH:mm:ss] program - msg"),
    # The generic fallback on the layouts it is meant to catch.
    (
        "loghub/Hadoop/Hadoop_2k.log",
        ["generic_timestamp_level"],
        0.99,
        "ISO time, level, message",
    ),
    (
        "loghub/Zookeeper/Zookeeper_2k.log",
        ["generic_timestamp_level"],
        0.99,
        "ISO time - level",
    ),
    # Multiline events (continuation lines are separate lines until the tailer joins them):
    # the rate of events is what counts here; the minimum is the share of event lines.
    ("filebeat/nginx-error.log", ["nginx_error"], 4 / 6, "4 events, 2 continuation lines"),
    (
        "elastic-examples/kafka_controller.log",
        ["kafka"],
        803 / 1032,
        "803 events, stack traces",
    ),
    ("elastic-examples/kafka_server.log", ["kafka"], 426 / 456, "426 events, stack traces"),
    (
        "filebeat/syslog-darwin-multiline.log",
        ["syslog_rfc3164"],
        3 / 21,
        "3 events + indented lines",
    ),
]

SHARE = {"sshd": ("loghub/OpenSSH/OpenSSH_2k.log", 0.3)}


def parse_corpus(path: Path, rules: list[str]) -> tuple[list[dict[str, Any]], ChainStats]:
    section = ParsersSettings()
    chain = ParserChain([compile_rule(section.rule(r), section.library) for r in rules], "h")
    framer = LineFramer(0, 1 << 20)
    lines = framer.feed(path.read_bytes())
    last = framer.flush()  # some corpus files end without a newline
    lines.texts += last.texts
    lines.starts += last.starts
    return chain.parse(lines, {"path": str(path)}, "2026-01-01T00:00:00.000Z")


@pytest.mark.parametrize(
    ("corpus", "rules", "minimum", "what"),
    RATES,
    ids=[f"{c}:{'+'.join(r)}" for c, r, _, _ in RATES],
)
def test_match_rate_on_real_logs(
    corpora: Path, corpus: str, rules: list[str], minimum: float, what: str
) -> None:
    entries, stats = parse_corpus(corpora / corpus, rules)
    rate = 1 - stats.unmatched / len(entries)
    print(
        f"\n{corpus} [{'+'.join(rules)}] ({what}): {len(entries) - stats.unmatched}/{len(entries)} = {rate:.2%}"
    )
    assert rate >= minimum, stats.unmatched_examples
    assert not stats.field_errors, stats.field_errors


def test_sshd_rule_picks_out_the_authentication_events(corpora: Path) -> None:
    entries, stats = parse_corpus(corpora / "loghub/OpenSSH/OpenSSH_2k.log", ["sshd"])
    outcomes = [
        get_field(e, "event.outcome") for e in entries if "parse_failure" not in e.get("tags", ())
    ]
    assert stats.matched["sshd"] >= 600
    assert outcomes.count("failure") > 300
    assert all(
        get_field(e, "source.ip") for e in entries if "parse_failure" not in e.get("tags", ())
    )


def test_kafka_rule_reads_the_first_line_of_every_event(corpora: Path) -> None:
    """Every event of the Kafka broker logs starts with a line the rule reads whole; the logger is
    the text in the last parentheses and the message what lies between the level and it."""
    for name in ("kafka_controller.log", "kafka_server.log"):
        path = corpora / "elastic-examples" / name
        entries, _ = parse_corpus(path, ["kafka"])
        texts = path.read_text(encoding="utf-8").splitlines()
        firsts = [(e, t) for e, t in zip(entries, texts, strict=True) if t.startswith("[")]
        assert len(firsts) == {"kafka_controller.log": 803, "kafka_server.log": 426}[name]
        for entry, text in firsts:
            assert "parse_failure" not in entry.get("tags", ()), text
            logger = text[text.rindex("(") + 1 : -1]
            assert get_field(entry, "log.logger") == logger, text
            level = text.split("] ", 1)[1].split(" ", 1)[0]
            assert get_field(entry, "log.level") == normalize_level(level), text
            assert text.endswith(f"{entry['message']} ({logger})"), text
            assert entry["@timestamp"][:19] == text[1:20].replace(" ", "T"), text


def _no_label(label: str) -> str:
    """BGL and Thunderbird mark lines without an alert category with `-` (no field then)."""
    return "" if label == "-" else label


def _epoch_time(seconds: str) -> str:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _android_level(level: str) -> str:
    return normalize_level(level, {"a": "fatal", "s": "trace"})


def _bgl_level(level: str) -> str:
    return normalize_level(level, {"failure": "fatal"})


def _request_id(context: str) -> str:
    """oslo.log's context `req-... user project - - -` (or `-`): its request id."""
    first = context.split(" ", 1)[0]
    return first if first.startswith("req-") else ""


# loghub column -> (record field, how the expected value is normalised)
FIELDS: list[tuple[str, list[str], dict[str, tuple[str, Any]]]] = [
    # apache_error keeps Apache's own level names (notice, crit, trace3), as Filebeat does
    ("Apache", ["apache_error"], {"Level": ("log.level", str.lower)}),
    (
        "Linux",
        ["syslog_rfc3164"],
        {
            "Level": ("host.hostname", None),
            "Component": ("process.name", None),
            "PID": ("process.pid", None),
            "Content": ("message", None),
        },
    ),
    (
        "OpenSSH",
        ["sshd", "syslog_rfc3164"],
        {
            "Component": ("host.hostname", None),
            "Pid": ("process.pid", None),
            "Content": ("message", None),
        },
    ),
    (
        "Mac",
        ["syslog_rfc3164"],
        {
            "User": ("host.hostname", None),
            "Component": ("process.name", None),
            "PID": ("process.pid", None),
            "Content": ("message", None),
        },
    ),
    (
        "Hadoop",
        ["java_log4j"],
        {
            "Level": ("log.level", normalize_level),
            "Process": ("process.thread.name", None),
            "Component": ("log.logger", None),
            "Content": ("message", None),
        },
    ),
    (
        "Spark",
        ["java_log4j"],
        {
            "Level": ("log.level", normalize_level),
            "Component": ("log.logger", None),
            "Content": ("message", None),
        },
    ),
    (
        "HDFS",
        ["hdfs"],
        {
            "Pid": ("process.pid", None),
            "Level": ("log.level", normalize_level),
            "Component": ("log.logger", None),
            "Content": ("message", None),
        },
    ),
    (
        "OpenStack",
        ["openstack"],
        {
            "Logrecord": ("openstack.log_file", None),
            "Pid": ("process.pid", None),
            "Level": ("log.level", normalize_level),
            "Component": ("log.logger", None),
            "ADDR": ("openstack.request_id", _request_id),
            "Content": ("message", None),
        },
    ),
    (
        "Android",
        ["android_logcat"],
        {
            "Pid": ("process.pid", None),
            "Tid": ("process.thread.id", None),
            "Level": ("log.level", _android_level),
            "Component": ("log.logger", None),
            "Content": ("message", None),
        },
    ),
    (
        "Windows",
        ["windows_cbs"],
        {
            "Level": ("log.level", normalize_level),
            "Component": ("log.logger", None),
            "Content": ("message", None),
        },
    ),
    (
        "Thunderbird",
        ["thunderbird"],
        {
            "Label": ("thunderbird.alert", _no_label),
            "Timestamp": ("@timestamp", _epoch_time),
            "User": ("host.hostname", None),
            "Location": ("log.syslog.hostname", None),
            "Component": ("process.name", None),
            "PID": ("process.pid", None),
            "Content": ("message", None),
        },
    ),
    (
        "BGL",
        ["bgl"],
        {
            "Label": ("bgl.alert", _no_label),
            "Timestamp": ("@timestamp", _epoch_time),
            "Node": ("host.hostname", None),
            "Time": ("bgl.time", None),
            "Type": ("bgl.type", None),
            "Component": ("log.logger", None),
            "Level": ("log.level", _bgl_level),
            "Content": ("message", None),
        },
    ),
    (
        "HPC",
        ["hpc"],
        {
            "LogId": ("event.sequence", None),
            "Node": ("host.hostname", None),
            "Component": ("log.logger", None),
            "State": ("event.action", None),
            "Time": ("@timestamp", _epoch_time),
            "Flag": ("hpc.flag", None),
            "Content": ("message", None),
        },
    ),
    (
        "HealthApp",
        ["healthapp"],
        {
            "Component": ("log.logger", None),
            "Pid": ("process.pid", None),
            "Content": ("message", None),
        },
    ),
    (
        "Proxifier",
        ["proxifier"],
        {"Program": ("process.name", None), "Content": ("message", None)},
    ),
]


@pytest.mark.parametrize(("system", "rules", "columns"), FIELDS, ids=[f[0] for f in FIELDS])
def test_fields_agree_with_loghubs_structured_csv(
    corpora: Path, system: str, rules: list[str], columns: dict[str, tuple[str, Any]]
) -> None:
    folder = corpora / "loghub" / system
    entries, _ = parse_corpus(folder / f"{system}_2k.log", rules)
    with (folder / f"{system}_2k.log_structured.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(entries)
    for column, (field, normalise) in columns.items():
        disagree = []
        for entry, row in zip(entries, rows, strict=True):
            want = normalise(row[column]) if normalise else row[column]
            got = get_field(entry, field)
            if ("" if got is None else str(got)).strip() != want.strip():
                disagree.append((row["LineId"], want, got))
        agreement = 1 - len(disagree) / len(rows)
        print(f"\n{system}.{column} -> {field}: {agreement:.2%}")
        assert agreement >= 0.99, disagree[:5]
