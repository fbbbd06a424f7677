"""Proof: a spooled sink that is down stalls no other sink, and costs no line.

Elasticsearch (the local fake, with a disk spool) goes down beside a file sink under a steady
load. Asserted: the file sink's lag stays under 2 s during the outage; afterwards Elasticsearch
holds every line exactly once (its documents are keyed by deterministic ids) and the file sink
every line (exactly once without crashes); resident memory stays bounded; the spool folder
never exceeds max_bytes. With kill -9 at seeded random moments during the outage and during
the drain: nothing lost on either sink.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import AgentProcess
from tests.prove.outage import MIB
from tests.prove.spool_outage import IsolationReport, run_isolation

RSS_BOUND = 128 * MIB
LAG_BOUND_S = 2.0


def check(report: IsolationReport, crashes: bool = False) -> None:
    print(report.text())
    assert report.file is not None
    assert report.es is not None
    assert not report.file.lost, report.text()
    assert not report.es.lost, report.text()
    assert report.file.unknown == 0
    assert report.es.unknown == 0
    assert report.es.duplicates == 0, report.text()
    if not crashes:
        assert report.file.duplicates == 0, report.text()
        assert report.file_lag_max_s < LAG_BOUND_S, report.text()
    assert report.spool_max_bytes > 0, "the spool took the outage"
    assert report.spool_max_bytes <= report.max_bytes, report.text()
    assert report.rss_peak <= RSS_BOUND, report.text()


def test_elasticsearch_down_for_3_s_the_file_sink_keeps_up_and_the_spool_delivers_all_once(
    tmp_path: Path, agents: list[AgentProcess], seed: int
) -> None:
    report = run_isolation(
        tmp_path, agents, seed, rate=2000, warmup=1, outage=3, after=1, max_bytes=64 * MIB
    )
    check(report)


@pytest.mark.slow
def test_elasticsearch_down_for_60_s_at_10000_lines_per_s_stalls_nothing_and_loses_nothing(
    tmp_path: Path, agents: list[AgentProcess], seed: int
) -> None:
    report = run_isolation(
        tmp_path, agents, seed, rate=10_000, warmup=3, outage=60, after=5, max_bytes=512 * MIB
    )
    check(report)


@pytest.mark.slow
def test_kill_9_during_the_outage_and_during_the_drain_loses_nothing_on_either_sink(
    tmp_path: Path, agents: list[AgentProcess], seed: int
) -> None:
    report = run_isolation(
        tmp_path,
        agents,
        seed,
        rate=5000,
        warmup=2,
        outage=20,
        after=5,
        max_bytes=256 * MIB,
        kills=3,
    )
    check(report, crashes=True)
