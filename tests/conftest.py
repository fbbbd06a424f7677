"""Shared fixtures: agent processes are always stopped, and no test leaks threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.kafka_mock import MockKafka
from tests.harness import AgentProcess

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture
def corpora() -> Path:
    """The shared real-world log corpora; the test is skipped when they are not on this machine."""
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA}")
    return CORPORA


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Collects AgentProcess objects a test starts and kills any still running at the end."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        if agent.running():
            agent.kill()


@pytest.fixture
def mock_kafka() -> Iterator[MockKafka]:
    """A fresh Kafka-protocol broker (librdkafka's mock cluster) in its own process on 127.0.0.1."""
    with MockKafka() as kafka:
        yield kafka


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fails a test that leaves non-daemon threads running (they would hang the agent's exit)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not leaked, f"threads leaked: {[t.name for t in leaked]}"
