"""Proof: kill -9 at random moments, restart, repeat; afterwards no line is missing.

Per sink: the file sink, Kafka (librdkafka's mock broker in its own process) and Elasticsearch
(the fake cluster). The full runs (500,000 lines, 10+ kills) are marked slow; the default runs
(50,000 lines, 3 kills) keep CI short. Replay a failure with the printed LOGSHIP_PROVE_SEED.

What is asserted, and why:
- lost == 0: every line written arrived at least once;
- no record of a line never written;
- Elasticsearch: no duplicate at all. Each line's `_id` is derived from its file identity,
  offset and text, so a line sent again after a crash is refused as already indexed (409);
- file and Kafka: duplicates <= the sum, over the crashes, of the lines that were delivered but
  at or past the checkpoint when the agent died (measured at each kill from the sink's content
  and the registry the dead agent left). Those are the only lines a restart sends again.
  Each crash's window is also asserted <= WINDOW_BOUND: the registry is written every
  checkpoint_interval (200 ms), so the window is what the sink accepted since the last write
  plus the batch in flight: 200 ms at this machine's best rate (~100,000 lines/s) is 20,000,
  plus a 2,000-line batch. A kill before the restarted agent wrote its first checkpoint adds
  the next run's lines to the same window (measured up to ~61,000 with Kafka, whose first
  delivery after a start waits for the broker's metadata); 100,000 leaves room for that and
  for a checkpoint write delayed on a busy machine;
- after the final graceful stop every file's checkpoint is its size (nothing left owed), and
  (file sink) per file the first arrival of each line is in file order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import AgentProcess
from tests.prove.crash_loop import CrashLoopReport, run_crash_loop
from tests.prove.ledger import Ledger
from tests.prove.targets import ElasticsearchTarget, FileTarget, Target, make_target

WINDOW_BOUND = 100_000
SINKS = ["file", "kafka", "elasticsearch"]


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Ledger:
    return Ledger(with_ids=request.node.callspec.params.get("sink") == "elasticsearch")


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path, ledger: Ledger) -> Iterator[Target]:
    made = make_target(request.node.callspec.params["sink"], tmp_path, ledger)
    yield made
    made.close()


def check(report: CrashLoopReport, target: Target, ledger: Ledger, root: Path) -> None:
    print(report.text())
    acc = report.accounting
    assert acc is not None
    assert acc.unknown == 0, report.text()
    assert not acc.lost, f"{len(acc.lost)} lines lost, first {acc.lost[:10]}\n{report.text()}"
    for crash in report.crashes:
        if crash.mode == "mid-stream":
            assert crash.past_checkpoint <= WINDOW_BOUND, report.text()
    if isinstance(target, ElasticsearchTarget):
        assert acc.duplicates == 0, report.text()
        print(f"  replays refused as already indexed (409): {target.replays():,}")
    else:
        assert acc.duplicates <= report.window, report.text()
    if isinstance(target, FileTarget):
        first_arrival_in_file_order(target, ledger)


def first_arrival_in_file_order(target: FileTarget, ledger: Ledger) -> None:
    seen: set[int] = set()
    firsts: list[int] = []
    for n in target.numbers():
        if n not in seen:
            seen.add(n)
            firsts.append(n)
    position = {n: i for i, n in enumerate(firsts)}
    for generation in ledger.files:
        order = [position[n] for n in generation.numbers]
        assert order == sorted(order), f"lines of {generation.key} arrived out of order"


@pytest.mark.parametrize("sink", SINKS)
def test_crash_loop_50000_lines_3_kills_loses_nothing(
    sink: str,
    tmp_path: Path,
    agents: list[AgentProcess],
    target: Target,
    ledger: Ledger,
    seed: int,
) -> None:
    report = run_crash_loop(
        tmp_path, target, ledger, agents, seed, total=50_000, kills=3, rate=25_000
    )
    check(report, target, ledger, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("sink", SINKS)
def test_crash_loop_500000_lines_12_kills_loses_nothing(
    sink: str,
    tmp_path: Path,
    agents: list[AgentProcess],
    target: Target,
    ledger: Ledger,
    seed: int,
) -> None:
    report = run_crash_loop(
        tmp_path, target, ledger, agents, seed, total=500_000, kills=12, rate=40_000
    )
    check(report, target, ledger, tmp_path)


@pytest.mark.parametrize("sink", ["file"])
def test_crash_loop_with_two_workers_killed_together_loses_nothing(
    sink: str,
    tmp_path: Path,
    agents: list[AgentProcess],
    target: Target,
    ledger: Ledger,
    seed: int,
) -> None:
    # `workers: 2`: every kill takes the supervisor and both workers at once (a node crash).
    report = run_crash_loop(
        tmp_path,
        target,
        ledger,
        agents,
        seed,
        total=50_000,
        kills=3,
        rate=25_000,
        workers=2,
        files=2,
    )
    check(report, target, ledger, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("sink", ["file"])
def test_crash_loop_500000_lines_12_kills_with_two_workers_loses_nothing(
    sink: str,
    tmp_path: Path,
    agents: list[AgentProcess],
    target: Target,
    ledger: Ledger,
    seed: int,
) -> None:
    report = run_crash_loop(
        tmp_path,
        target,
        ledger,
        agents,
        seed,
        total=500_000,
        kills=12,
        rate=40_000,
        workers=2,
        files=2,
    )
    check(report, target, ledger, tmp_path)
