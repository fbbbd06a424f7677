"""Proof: a sink that is down (or slow) under steady load costs no line and no memory growth.

Per sink, unavailable for a while under a steady rate of lines: the file sink's disk full (its
own small file system, filled to the last byte), the Kafka broker down (listener closed), the
Elasticsearch cluster down (connection refused); and slow rather than down: every Kafka request
answered 2 s late, every bulk request 2 s late. (A slow local disk cannot be made here: no
device-mapper delay target.) Full runs (30 s at 10,000 lines/s) are marked slow; the default
runs are short.

Asserted:
- no line lost, no record of a line never written; duplicates 0 for the file sink (a failed
  write is rolled back) and Elasticsearch (ids), and for Kafka at most KAFKA_RESEND_BOUND
  (a produce request whose answer was lost in the outage is sent again);
- during a full outage no checkpoint lies past a line that had not been delivered;
- resident memory stays under RSS_BOUND during the outage and the drain, and does not grow
  with the outage's length: the peak of its second half is within RSS_GROWTH of its first
  half's (the queue is bounded; the backlog waits on disk, not in memory);
- the backlog drains after recovery: every line arrives and every file's checkpoint reaches
  its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import AgentProcess
from tests.prove.ledger import Ledger
from tests.prove.outage import MIB, OutageReport, run_outage
from tests.prove.targets import ElasticsearchTarget, FileTarget, Target, make_target

RSS_BOUND = 128 * MIB  # the DaemonSet's memory request
RSS_GROWTH = 8 * MIB
KAFKA_RESEND_BOUND = 10_000


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Ledger:
    return Ledger(with_ids=request.node.callspec.params["sink"] == "elasticsearch")


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path, ledger: Ledger) -> Iterator[Target]:
    # The file sink writes to a small file system of its own, so that it can be filled.
    made = make_target(request.node.callspec.params["sink"], tmp_path, ledger, disk_size="512m")
    yield made
    made.close()


def check(report: OutageReport, target: Target) -> None:
    print(report.text())
    acc = report.accounting
    assert acc is not None
    assert acc.unknown == 0, report.text()
    assert not acc.lost, f"{len(acc.lost)} lines lost, first {acc.lost[:10]}\n{report.text()}"
    if isinstance(target, ElasticsearchTarget | FileTarget):
        assert acc.duplicates == 0, report.text()
    else:
        assert acc.duplicates <= KAFKA_RESEND_BOUND, report.text()
    assert not report.checkpoint_violations, report.checkpoint_violations[:5]
    assert max(report.rss_outage, report.rss_drain) <= RSS_BOUND, report.text()
    assert report.rss_outage - report.rss_outage_early <= RSS_GROWTH, report.text()


@pytest.mark.parametrize("sink", ["file", "kafka", "elasticsearch"])
def test_a_sink_down_for_5_s_at_5000_lines_per_s_costs_nothing(
    sink: str, tmp_path: Path, agents: list[AgentProcess], target: Target, ledger: Ledger, seed: int
) -> None:
    report = run_outage(
        tmp_path, target, ledger, agents, seed, kind="down", rate=5000, warmup=2, outage=5, after=1
    )
    check(report, target)


@pytest.mark.parametrize("sink", ["elasticsearch"])
def test_a_slow_sink_for_5_s_at_5000_lines_per_s_costs_nothing(
    sink: str, tmp_path: Path, agents: list[AgentProcess], target: Target, ledger: Ledger, seed: int
) -> None:
    report = run_outage(
        tmp_path, target, ledger, agents, seed, kind="slow", rate=5000, warmup=2, outage=5, after=1
    )
    check(report, target)


@pytest.mark.slow
@pytest.mark.parametrize("sink", ["file", "kafka", "elasticsearch"])
def test_a_sink_down_for_30_s_at_10000_lines_per_s_costs_nothing(
    sink: str, tmp_path: Path, agents: list[AgentProcess], target: Target, ledger: Ledger, seed: int
) -> None:
    report = run_outage(
        tmp_path,
        target,
        ledger,
        agents,
        seed,
        kind="down",
        rate=10_000,
        warmup=5,
        outage=30,
        after=5,
    )
    check(report, target)


@pytest.mark.slow
@pytest.mark.parametrize("sink", ["kafka", "elasticsearch"])
def test_a_slow_sink_for_30_s_at_10000_lines_per_s_costs_nothing(
    sink: str, tmp_path: Path, agents: list[AgentProcess], target: Target, ledger: Ledger, seed: int
) -> None:
    report = run_outage(
        tmp_path,
        target,
        ledger,
        agents,
        seed,
        kind="slow",
        rate=10_000,
        warmup=5,
        outage=30,
        after=5,
    )
    check(report, target)
