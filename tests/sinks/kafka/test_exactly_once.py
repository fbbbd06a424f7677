"""`delivery: exactly_once` into Kafka, end to end: the agent as a process, two real brokers
(and the default mode against Tansu, the second broker).

librdkafka's mock cluster and Tansu both speak the transactional protocol, with limits measured
on these machines (docs/kafka.md): the mock cluster does not fence (a second producer with the
same transactional.id goes on working), and neither hides aborted transactions from
`read_committed` consumers. The tests below need neither; fencing runs on Tansu only.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson
import pytest

from logship.state.checkpoint import CheckpointError
from logship.state.shard import read_all
from tests.doubles.committed_reader import CommittedReader
from tests.doubles.kafka_mock import MockKafka
from tests.doubles.tansu import Tansu, tansu_binary
from tests.harness import AgentProcess, wait_until, write_config
from tests.sinks.kafka.test_end_to_end import RULE, append_lines

HOST = "eos-test-host"
OFFSETS = "logship-offsets"


class Broker(Protocol):
    bootstrap_servers: str


@pytest.fixture(params=["mock", pytest.param("tansu", marks=pytest.mark.slow)])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Each broker in turn; Tansu only when installed (`make tansu`), and only in the slow
    runs (CI time: Tansu's fencing test below runs always)."""
    if request.param == "mock":
        with MockKafka() as kafka:
            kafka.create_topic("logs", 1)
            yield kafka
        return
    binary = tansu_binary()
    if binary is None:
        pytest.skip("Tansu is not installed (make tansu)")
    with Tansu(binary) as tansu:
        yield tansu


@pytest.fixture
def tansu() -> Iterator[Tansu]:
    binary = tansu_binary()
    if binary is None:
        pytest.skip("Tansu is not installed (make tansu)")
    with Tansu(binary) as broker:
        yield broker


def eos_config(
    root: Path, servers: str, data: str = "data", delivery: str = "exactly_once"
) -> Path:
    (root / "logs").mkdir(exist_ok=True)
    return write_config(
        root / f"agent-{data}.yaml",
        {
            "agent": {
                "data_dir": str(root / data),
                "host_name": HOST,
                "checkpoint_interval": "200ms",
                "workers": 1,
                "http": {"address": None},
            },
            "inputs": [
                {
                    "name": "app",
                    "paths": [str(root / "logs" / "*.log")],
                    "parsers": ["numbered"],
                    "poll_interval": "50ms",
                }
            ],
            "parsers": [RULE],
            "sinks": [
                {
                    "name": "kafka",
                    "type": "kafka",
                    "bootstrap_servers": servers,
                    "topic": "logs",
                    "delivery": delivery,
                    "offsets_topic": OFFSETS,
                    "batch": {"max_events": 500, "linger_ms": 20},
                    "message_timeout": "5s",
                    "metadata_timeout": "5s",
                }
            ],
        },
    )


def numbers(reader: CommittedReader) -> Counter[int]:
    return Counter(orjson.loads(v)["n"] for *_, v in list(reader.messages))


def checkpointed_to_end(root: Path, data: str = "data") -> bool:
    size = (root / "logs" / "app.log").stat().st_size
    try:
        saved = read_all(root / data)
    except CheckpointError:
        return False
    return any(cp.offset == size for cp in saved.values())


def committed_offsets(servers: str) -> dict[str, Any]:
    reader = CommittedReader(servers, OFFSETS)
    reader.start()
    try:
        wait_until(lambda: reader.count() > 0, timeout=30, message="offsets records")
    finally:
        reader.stop()
    latest: dict[str, Any] = {}
    for _, _, key, value in reader.messages:
        latest[(key or b"").decode()] = orjson.loads(value)
    return latest


@pytest.mark.slow  # the wipe test below covers the same ground in CI
def test_exactly_once_ships_each_line_once_and_commits_its_checkpoint_to_the_offsets_topic(
    tmp_path: Path, broker: Broker, agents: list[AgentProcess]
) -> None:
    log = tmp_path / "logs" / "app.log"
    config = eos_config(tmp_path, broker.bootstrap_servers)
    append_lines(log, 0, 2000)
    reader = CommittedReader(broker.bootstrap_servers, "logs")
    reader.start()
    agent = AgentProcess(config).start()
    agents.append(agent)
    try:
        wait_until(lambda: reader.count() >= 2000, timeout=60, message="2000 records")
        wait_until(lambda: checkpointed_to_end(tmp_path), timeout=30, message="checkpoint")
        assert agent.stop() == 0
        got = numbers(reader)
    finally:
        reader.stop()
    assert set(got) == set(range(2000))
    assert max(got.values()) == 1
    offsets = committed_offsets(broker.bootstrap_servers)
    ours = {k: v for k, v in offsets.items() if k.startswith(f"{HOST}/")}
    assert [v["offset"] for v in ours.values()] == [log.stat().st_size]
    assert [v["path"] for v in ours.values()] == [str(log)]


def test_after_a_data_folder_wipe_the_agent_resumes_from_the_offsets_topic_without_duplicates(
    tmp_path: Path, broker: Broker, agents: list[AgentProcess]
) -> None:
    log = tmp_path / "logs" / "app.log"
    config = eos_config(tmp_path, broker.bootstrap_servers)
    append_lines(log, 0, 1500)
    reader = CommittedReader(broker.bootstrap_servers, "logs")
    reader.start()
    try:
        agent = AgentProcess(config).start()
        agents.append(agent)
        wait_until(lambda: reader.count() >= 1500, timeout=60, message="1500 records")
        wait_until(lambda: checkpointed_to_end(tmp_path), timeout=30, message="checkpoint")
        assert agent.stop() == 0
        shutil.rmtree(tmp_path / "data")  # the local registry is gone: only Kafka knows
        append_lines(log, 1500, 1000)
        again = AgentProcess(config).start()
        agents.append(again)
        wait_until(lambda: reader.count() >= 2500, timeout=60, message="2500 records")
        wait_until(lambda: checkpointed_to_end(tmp_path), timeout=30, message="checkpoint")
        assert again.stop() == 0
        got = numbers(reader)
    finally:
        reader.stop()
    assert set(got) == set(range(2500))
    assert max(got.values()) == 1, "a line was shipped twice"
    offsets = committed_offsets(broker.bootstrap_servers)
    ours = [v for k, v in offsets.items() if k.startswith(f"{HOST}/")]
    assert [(v["path"], v["offset"]) for v in ours] == [(str(log), log.stat().st_size)]


def test_a_second_agent_with_the_same_identity_fences_the_first_which_stops_with_the_error(
    tmp_path: Path, tansu: Tansu, agents: list[AgentProcess]
) -> None:
    # The mock cluster does not fence (it lets both producers commit): Tansu only.
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    append_lines(log, 0, 1000)
    reader = CommittedReader(tansu.bootstrap_servers, "logs")
    reader.start()
    try:
        older = AgentProcess(eos_config(tmp_path, tansu.bootstrap_servers, "data-a")).start()
        agents.append(older)
        wait_until(lambda: reader.count() >= 1000, timeout=60, message="1000 records")
        wait_until(lambda: checkpointed_to_end(tmp_path, "data-a"), timeout=30)
        # Same agent.host_name, another data folder: a replacement node, say.
        newer = AgentProcess(eos_config(tmp_path, tansu.bootstrap_servers, "data-b")).start()
        agents.append(newer)
        newer.wait_for_log("Agent started.")
        append_lines(log, 1000, 1000)
        assert older.wait(timeout=60) == 1
        wait_until(lambda: reader.count() >= 2000, timeout=60, message="2000 records")
        wait_until(lambda: checkpointed_to_end(tmp_path, "data-b"), timeout=30)
        assert newer.stop() == 0
        got = numbers(reader)
    finally:
        reader.stop()
    stopped = [e for e in older.logs() if e.get("message") == "A sink cannot go on; stopping."]
    assert stopped, older.stderr_text()[-2000:]
    assert "was fenced" in stopped[0]["reason"]
    assert f"logship-{HOST}-kafka" in stopped[0]["reason"]
    assert set(got) == set(range(2000))
    assert max(got.values()) == 1, "a line was shipped twice"


def test_at_least_once_the_kafka_sink_ships_every_line_to_tansu_and_checkpoints_them(
    tmp_path: Path, tansu: Tansu, agents: list[AgentProcess]
) -> None:
    # Interoperability: the default mode against a second, independent broker.
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    append_lines(log, 0, 2000)
    reader = CommittedReader(tansu.bootstrap_servers, "logs")
    reader.start()
    try:
        config = eos_config(tmp_path, tansu.bootstrap_servers, delivery="at_least_once")
        agent = AgentProcess(config).start()
        agents.append(agent)
        wait_until(lambda: reader.count() >= 2000, timeout=60, message="2000 records")
        wait_until(lambda: checkpointed_to_end(tmp_path), timeout=30, message="checkpoint")
        assert agent.stop() == 0
        got = numbers(reader)
    finally:
        reader.stop()
    assert set(got) == set(range(2000))
    assert max(got.values()) == 1
