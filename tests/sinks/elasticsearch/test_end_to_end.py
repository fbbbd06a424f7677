"""The agent as a process shipping to Elasticsearch: the fake cluster, or a real one when
LOGSHIP_TEST_ES_URL is set (e.g. http://elastic:changeme@localhost:9200; optional
LOGSHIP_TEST_ES_CA_FILE). Every line arrives exactly once, whatever fails on the way."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from logship.state.shard import read_all
from sinks.elasticsearch.client import Client, node_configs
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.encoder import document_id
from tests.doubles.es_server import EsServer, basic_auth, make_test_ca
from tests.harness import AgentProcess, read_ndjson, wait_until, write_config

START = 1_764_028_000  # 2025-11-24T23:46:40Z: lines cross midnight, so daily indices change
RULE = {
    "name": "numbered",
    "regex": r"^(?P<ts>\d+) line (?P<n>\S+) (?P<kind>\w+) (?P<pad>.*)$",
    "types": {"n": "int"},
    "timestamp": {"field": "ts", "format": "UNIX"},
}
PAD = "x" * 40


def line(i: int, n: str | None = None) -> str:
    kind = "even" if i % 2 == 0 else "odd"
    return f"{START + i // 20} line {n or i} {kind} {PAD}\n"


def append_lines(path: Path, start: int, count: int, bad: frozenset[int] = frozenset()) -> None:
    with path.open("a") as f:
        for base in range(start, start + count, 10_000):
            f.write(
                "".join(
                    line(i, f"x{i}" if i in bad else None)
                    for i in range(base, min(base + 10_000, start + count))
                )
            )


def timestamp(i: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(START + i // 20))


def make_config(tmp_path: Path, url: str, **sink: Any) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {"data_dir": str(tmp_path / "data"), "checkpoint_interval": "200ms"},
            "inputs": [
                {
                    "name": "app",
                    "paths": [str(logs / "*.log")],
                    "parsers": ["numbered"],
                    "poll_interval": "50ms",
                }
            ],
            "parsers": [RULE],
            "sinks": [
                {
                    "name": "es",
                    "type": "elasticsearch",
                    "hosts": [url],
                    "batch": {"max_events": 2000, "linger_ms": 20},
                    "retry": {"initial_backoff": "50ms", "max_backoff": "1s"},
                    **sink,
                }
            ],
        },
    )


def registry_offset(tmp_path: Path) -> int:
    """The highest acknowledged offset in any registry file (one agent or several workers)."""
    return max((cp.offset for cp in read_all(tmp_path / "data").values()), default=0)


def messages(server: EsServer) -> Counter[str]:
    return Counter(doc["message"] for _, _, doc in server.state.all_sources())


@pytest.fixture
def server() -> Iterator[EsServer]:
    with EsServer() as srv:
        yield srv


# --- the same end-to-end run against the fake cluster and, when configured, a real one ----


class FakeTarget:
    """Verification through the fake cluster's memory."""

    def __init__(self, server: EsServer) -> None:
        self.server = server
        self.url = server.url
        self.sink: dict[str, Any] = {}

    def count(self, index: str) -> int:
        return self.server.state.count(index)

    def ids(self, index: str) -> set[str]:
        return set(self.server.state.sources(index))

    def cleanup(self, indices: list[str]) -> None:
        pass


class RealTarget:
    """Verification through a real cluster's HTTP API."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        self.sink: dict[str, Any] = {}
        if parts.username:
            self.sink["auth"] = {
                "username": unquote(parts.username),
                "password": unquote(parts.password or ""),
            }
        ca = os.environ.get("LOGSHIP_TEST_ES_CA_FILE")
        if ca:
            self.sink["tls"] = {"ca_file": ca}
        settings = ElasticsearchSinkSettings.model_validate(
            {"name": "check", "type": "elasticsearch", "hosts": [self.url], **self.sink}
        )
        self.client = Client(node_configs(settings))

    def count(self, index: str) -> int:
        self.client.request("POST", f"/{index}/_refresh")
        answer = self.client.request("GET", f"/{index}/_count")
        return int(answer.body["count"]) if answer.status == 200 else 0

    def ids(self, index: str) -> set[str]:
        found: set[str] = set()
        answer = self.client.request(
            "POST",
            f"/{index}/_search?scroll=1m",
            body={"size": 10_000, "_source": False, "sort": ["_doc"]},
        )
        while answer.status == 200 and answer.body["hits"]["hits"]:
            found.update(hit["_id"] for hit in answer.body["hits"]["hits"])
            answer = self.client.request(
                "POST",
                "/_search/scroll",
                body={"scroll": "1m", "scroll_id": answer.body["_scroll_id"]},
            )
        return found

    def cleanup(self, indices: list[str]) -> None:
        for index in indices:
            self.client.request("DELETE", f"/{index}")
        self.client.close()


@pytest.fixture(params=["fake", "real"])
def target(request: pytest.FixtureRequest) -> Iterator[FakeTarget | RealTarget]:
    if request.param == "real":
        url = os.environ.get("LOGSHIP_TEST_ES_URL")
        if not url:
            pytest.skip("set LOGSHIP_TEST_ES_URL to run against a real Elasticsearch")
        yield RealTarget(url)
        return
    with EsServer() as srv:
        yield FakeTarget(srv)


def test_agent_ships_200000_lines_into_the_expected_indices_with_the_expected_ids(
    tmp_path: Path, agents: list[AgentProcess], target: FakeTarget | RealTarget
) -> None:
    total = 200_000
    prefix = f"logship-e2e-{uuid.uuid4().hex[:8]}"
    config = make_config(tmp_path, target.url, index=prefix + "-{kind}-%Y.%m.%d", **target.sink)
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, total)
    st = log.stat()
    expected: dict[str, set[str]] = {}
    offset = 0
    for i in range(total):
        text = line(i)
        day = timestamp(i)[:10].replace("-", ".")
        index = f"{prefix}-{'even' if i % 2 == 0 else 'odd'}-{day}"
        entry = {
            "@timestamp": timestamp(i),
            "message": text[:-1],
            "log": {
                "file": {"device_id": str(st.st_dev), "inode": str(st.st_ino)},
                "offset": offset,
            },
        }
        expected.setdefault(index, set()).add(document_id(entry))
        offset += len(text)
    assert len(expected) == 4  # even/odd on two days
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        for index, ids in expected.items():
            wait_until(
                lambda index=index, ids=ids: target.count(index) >= len(ids),  # type: ignore[misc]
                timeout=180,
                message=f"{len(ids)} documents in {index}",
            )
        assert agent.stop() == 0
        for index, ids in expected.items():
            assert target.count(index) == len(ids)
            assert target.ids(index) == ids
    finally:
        target.cleanup(list(expected))
    if isinstance(target, FakeTarget):
        index = next(iter(expected))
        doc = next(iter(target.server.state.sources(index).values()))
        assert set(doc) == {
            *("@timestamp", "message", "n", "kind", "pad", "log", "host", "ecs", "agent")
        }
        assert all(b.gzip for b in target.server.state.bulks)
    assert registry_offset(tmp_path) == log.stat().st_size


def test_partial_failures_resend_only_failed_items_and_dead_letter_mapping_errors(
    tmp_path: Path, agents: list[AgentProcess], server: EsServer
) -> None:
    total = 40_000
    bad = frozenset(range(1001, total, 5_000))  # `n` is not a number: a mapping error
    throttled: set[int] = set()
    attempts: Counter[int] = Counter()

    def fault(index: str, doc_id: str | None, doc: dict[str, Any]) -> Any:
        i = int(doc["message"].split()[2].lstrip("x"))
        attempts[i] += 1
        if i % 97 == 0 and attempts[i] == 1:
            throttled.add(i)
            return 429, {"type": "es_rejected_execution_exception", "reason": "queue capacity 200"}
        if i % 89 == 0 and attempts[i] <= 2:
            throttled.add(i)
            return 500, {"type": "exception", "reason": "shard failure"}
        return None

    server.state.item_fault = fault
    config = make_config(tmp_path, server.url, dataset="partial")
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, total, bad)
    agent = AgentProcess(config).start()
    agents.append(agent)
    wait_until(
        lambda: server.state.count() >= total - len(bad), timeout=120, message="all good lines"
    )
    dead_file = tmp_path / "data" / "dead-letter" / "es.jsonl"
    wait_until(lambda: len(read_ndjson(dead_file)) >= len(bad), timeout=30, message="dead letters")
    assert agent.stop() == 0

    got = messages(server)
    good = [line(i)[:-1] for i in range(total) if i not in bad]
    assert set(got) == set(good), "a line was lost or a bad one indexed"
    assert all(count == 1 for count in got.values()), "a line was indexed twice"
    letters = read_ndjson(dead_file)
    assert sorted(letter["record"]["message"] for letter in letters) == sorted(
        line(i, f"x{i}")[:-1] for i in bad
    )
    for letter in letters:
        assert letter["reason"].startswith("logs-partial-default: 400 document_parsing_exception")
        assert "failed to parse field [n] of type [long]" in letter["reason"]
    # Only failed items were sent again: every item went once, a throttled one once per failure.
    assert throttled
    assert all(attempts[i] == 1 for i in range(total) if i not in throttled and i not in bad)
    assert all(attempts[i] == (3 if i % 89 == 0 else 2) for i in throttled)
    assert registry_offset(tmp_path) == log.stat().st_size


def test_kill_9_mid_stream_then_restart_indexes_every_line_exactly_once(
    tmp_path: Path, agents: list[AgentProcess], server: EsServer
) -> None:
    total = 100_000
    config = make_config(tmp_path, server.url, dataset="crash")
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, total)
    agent = AgentProcess(config).start()
    agents.append(agent)
    wait_until(lambda: server.state.count() >= 30_000, timeout=120, message="30,000 indexed")
    agent.kill()
    indexed_at_crash = server.state.count()
    checkpointed = registry_offset(tmp_path)
    agent.start()
    wait_until(lambda: server.state.count() >= total, timeout=180, message="every line")
    assert agent.stop() == 0
    got = messages(server)
    assert set(got) == {line(i)[:-1] for i in range(total)}
    assert server.state.count() == total, "a line was indexed twice"
    conflicts = sum(b.item_statuses.count(409) for b in server.state.bulks)
    print(f"indexed at crash {indexed_at_crash}, checkpoint {checkpointed}, replayed {conflicts}")
    lines_checkpointed = checkpointed // len(line(0))
    if indexed_at_crash > lines_checkpointed:
        assert conflicts > 0, "lines past the checkpoint were replayed without conflicts"


def test_an_outage_holds_the_checkpoint_bounds_memory_and_everything_arrives_after(
    tmp_path: Path, agents: list[AgentProcess], server: EsServer
) -> None:
    config = make_config(tmp_path, server.url, dataset="outage", request_timeout="2s")
    log = tmp_path / "logs" / "app.log"
    append_lines(log, 0, 10_000)
    agent = AgentProcess(config).start()
    agents.append(agent)
    wait_until(lambda: server.state.count() >= 10_000, timeout=60, message="first 10,000")
    wait_until(
        lambda: registry_offset(tmp_path) == log.stat().st_size, timeout=30, message="checkpoint"
    )
    server.down()
    before = log.stat().st_size
    append_lines(log, 10_000, 150_000)
    agent.wait_for_log("Sink failing; retrying with backoff.", timeout=60)
    # Watch the agent for a while as it keeps failing: sample, never assert on timing.
    peak_rss = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert registry_offset(tmp_path) <= before, "checkpoint moved past unindexed lines"
        peak_rss = max(peak_rss, rss_kib(agent.pid))
        time.sleep(0.1)
    assert registry_offset(tmp_path) <= before
    # The queue (20,000 entries by default) bounds memory, not the 150,000 lines waiting on disk.
    assert peak_rss < 400 * 1024, f"agent RSS {peak_rss} KiB during the outage"
    server.up()
    wait_until(lambda: server.state.count() >= 160_000, timeout=180, message="all after the outage")
    assert agent.stop() == 0
    assert server.state.count() == 160_000
    assert set(messages(server)) == {line(i)[:-1] for i in range(160_000)}
    assert registry_offset(tmp_path) == log.stat().st_size


def rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


def test_the_agent_ships_over_https_with_a_self_signed_ca_from_config(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    files = make_test_ca(tmp_path / "tls")
    with EsServer(certfile=files.server_cert, keyfile=files.server_key) as tls_server:
        tls_server.state.credentials = {basic_auth("agent", "s3cret")}
        config = make_config(
            tmp_path,
            tls_server.url,
            dataset="tls",
            tls={"ca_file": str(files.ca_cert)},
            auth={"username": "agent", "password": "${ES_TEST_PASSWORD}"},
        )
        log = tmp_path / "logs" / "app.log"
        append_lines(log, 0, 5_000)
        agent = AgentProcess(config, env={"ES_TEST_PASSWORD": "s3cret"}).start()
        agents.append(agent)
        agent.wait_for_log("Connected to Elasticsearch.")
        wait_until(lambda: tls_server.state.count() >= 5_000, timeout=60, message="5,000 over TLS")
        assert agent.stop() == 0
        assert tls_server.state.count() == 5_000
        assert "s3cret" not in agent.stderr_text()
