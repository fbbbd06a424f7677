"""Stop signals with worker processes: a SIGTERM a worker gets twice (from systemd and from its
supervisor) is one stop; the supervisor's second stop reaches the workers as the hurry."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from logship.app.agent import Agent
from logship.app.config import Config
from logship.app.config_file import parse_config
from logship.app.pipeline import Pipeline
from logship.app.supervisor import Supervisor
from logship.state.shard import SINGLE, Shard
from tests.harness import config_doc


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def config(tmp_path: Path) -> Config:
    doc = config_doc(tmp_path, agent={"http": {"address": None}})
    return parse_config(orjson.dumps(doc).decode(), "test", tmp_path)


def agent_with_handlers(tmp_path: Path, shard: Shard) -> Agent:
    cfg = config(tmp_path)
    agent = Agent(cfg, Pipeline(cfg, shard=shard), shard=shard)
    agent._install_signals()
    return agent


@pytest.mark.usefixtures("restore_handlers")
def test_a_worker_takes_a_second_sigterm_as_the_same_stop_and_sigint_as_the_hurry(
    tmp_path: Path,
) -> None:
    agent = agent_with_handlers(tmp_path, Shard(0, 2))
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)
    assert agent._stop.is_set()
    assert not agent._hurry.is_set(), "a second SIGTERM must not skip a worker's drain"
    os.kill(os.getpid(), signal.SIGINT)
    assert agent._hurry.is_set()


@pytest.mark.usefixtures("restore_handlers")
def test_a_single_agent_takes_any_second_stop_signal_as_the_hurry(tmp_path: Path) -> None:
    agent = agent_with_handlers(tmp_path, SINGLE)
    os.kill(os.getpid(), signal.SIGTERM)
    assert not agent._hurry.is_set()
    os.kill(os.getpid(), signal.SIGTERM)
    assert agent._hurry.is_set()


class RecordingProcess:
    """A worker process that is running and records the signals sent to it."""

    def __init__(self) -> None:
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return None

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


def test_the_supervisor_forwards_its_first_stop_as_sigterm_and_a_later_one_as_sigint(
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(config(tmp_path), tmp_path / "agent.yaml", 2)
    procs = [RecordingProcess(), RecordingProcess()]
    for worker, proc in zip(supervisor.workers, procs, strict=True):
        worker.proc = proc  # type: ignore[assignment]
    supervisor._signals += [signal.SIGINT, signal.SIGHUP]
    supervisor._forward_signals()
    supervisor._signals += [signal.SIGTERM]
    supervisor._forward_signals()
    assert all(p.signals == [signal.SIGTERM, signal.SIGHUP, signal.SIGINT] for p in procs)
