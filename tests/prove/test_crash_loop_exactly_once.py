"""Proof of `delivery: exactly_once`: kill -9 at random moments, restart, repeat; afterwards
every line is there, and (file sink) exactly once.

The harness is the at-least-once crash loop's (tests/prove/crash_loop.py); replay a failure
with the printed LOGSHIP_PROVE_SEED. What is asserted:

- lost == 0 and no record of a line never written, for every target;
- the file sink: 0 duplicates, and per file the lines in file order. A restart cuts the output
  back to the length saved with the checkpoint, so what a dead agent wrote past it is gone
  before the lines are written again; also while the output rotates by size (`rotate`), when
  the file the checkpoint belongs to may have been rotated away since;
- Kafka: 0 duplicates *in committed transactions*. Neither broker available here hides the
  records of an aborted transaction from a read_committed consumer (measured:
  test_kafka_broker_evidence.py), so the records of the one transaction each kill interrupts
  stay visible there. The log is therefore split into transactions (tests/prove/
  kafka_transactions.py: runs of offsets between transaction markers and kills) and, per kill
  and partition, at most the dead agent's last run is taken out, only if all its lines arrive
  again later, and only if the runs taken out for one kill are one transaction (its last);
  then 0 lost, 0 duplicates, each file's lines in order within a partition. Against Apache
  Kafka, which hides aborted transactions from read_committed consumers, nothing is taken out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.tansu import Tansu
from tests.harness import AgentProcess
from tests.prove.crash_loop import CrashLoopReport, run_crash_loop
from tests.prove.kafka_target import KafkaTarget
from tests.prove.kafka_transactions import prove
from tests.prove.ledger import Ledger
from tests.prove.targets import FileTarget, RotatingFileTarget, Target, make_target
from tests.prove.test_crash_loop import first_arrival_in_file_order

RATE = {"file-eos-rotating": 10_000, "kafka-eos": 4_000}
"""Lines/s of CI's short variant: Kafka's slower, so that its kill finds lines still to send
(the agent's start-up takes about a second; at 10,000 lines/s the writer was done by then)."""


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(with_ids=False)


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path, ledger: Ledger) -> Iterator[Target]:
    made = make_target(request.node.callspec.params["sink"], tmp_path, ledger)
    yield made
    made.close()


def check_exactly_once(report: CrashLoopReport, target: Target, ledger: Ledger) -> None:
    print(report.text())
    acc = report.accounting
    assert acc is not None
    assert acc.unknown == 0, report.text()
    assert not acc.lost, f"{len(acc.lost)} lines lost, first {acc.lost[:10]}\n{report.text()}"
    if isinstance(target, RotatingFileTarget):
        print(f"  output files rotated: {target.rotated()}")
        assert target.rotated() > 0
    if isinstance(target, FileTarget):
        assert acc.duplicates == 0, report.text()
        first_arrival_in_file_order(target, ledger)
    else:
        assert isinstance(target, KafkaTarget)
        tansu = isinstance(target.kafka, Tansu)
        proof = prove(
            "Tansu" if tansu else "mock cluster",
            target.records(),
            [ts for _, ts in target.offsets_records],
            report.crashes,
            ledger,
            takeover_marks=tansu,
        )
        print(proof.summary())
        text = f"{report.text()}\n{proof.summary()}"
        assert not proof.problems, f"{proof.problems[:10]}\n{text}"
        assert proof.kept is not None
        assert proof.kept.duplicates == 0, text
        assert not proof.kept.lost, f"lost once uncommitted runs are out: {proof.kept.lost[:10]}"
        assert proof.kept.unknown == 0, text


@pytest.mark.parametrize(("sink", "kills"), [("file-eos-rotating", 2), ("kafka-eos", 1)])
def test_exactly_once_crash_loop_10000_lines_with_kills_loses_nothing_and_duplicates_nothing(
    sink: str,
    kills: int,
    tmp_path: Path,
    agents: list[AgentProcess],
    target: Target,
    ledger: Ledger,
    seed: int,
) -> None:
    # CI's short variant (its time budget): Kafka restarts cost more, so one kill there.
    report = run_crash_loop(
        tmp_path, target, ledger, agents, seed, total=10_000, kills=kills, rate=RATE[sink]
    )
    check_exactly_once(report, target, ledger)


@pytest.mark.slow
@pytest.mark.parametrize("sink", ["file-eos", "file-eos-rotating", "kafka-eos", "tansu-eos"])
def test_exactly_once_crash_loop_200000_lines_at_20000_per_s_10_kills_loses_and_duplicates_nothing(
    sink: str,
    tmp_path: Path,
    agents: list[AgentProcess],
    target: Target,
    ledger: Ledger,
    seed: int,
) -> None:
    report = run_crash_loop(
        tmp_path, target, ledger, agents, seed, total=200_000, kills=10, rate=20_000
    )
    check_exactly_once(report, target, ledger)
