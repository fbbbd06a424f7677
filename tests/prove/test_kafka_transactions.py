"""The Kafka exactly-once verifier (tests/prove/kafka_transactions.py) on made-up logs: it passes
the log a correct agent leaves after a kill, and fails the logs of agents that resend
committed transactions, which the brokers here cannot tell from aborted ones by themselves."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.prove.crash_loop import Crash
from tests.prove.kafka_transactions import TransactionProof, prove
from tests.prove.ledger import Ledger

KILL = Crash(1, "mid-stream", "-", 0, 0, True, killed_at=100.0, restarted_at=101.0)
BEFORE, AFTER = 99_000, 101_500
"""Milliseconds: the dead agent wrote before the kill, its successor after the restart."""


@dataclass
class Log:
    """A topic as an agent writes it: transactions of lines, each to one partition, each
    followed by its marker; commits also write a checkpoint record (a commit point)."""

    records: list[tuple[int, int, int, int]] = field(default_factory=list)
    commit_points: list[int] = field(default_factory=list)
    ends: dict[int, int] = field(default_factory=dict)

    def transaction(
        self, partition: int, lines: range, ms: int, committed: bool = True, marker: bool = True
    ) -> None:
        """Appends one transaction's records at `ms`, `ms + 1`, ...; then its commit."""
        offset = self.ends.get(partition, 0)
        for i, n in enumerate(lines):
            self.records.append((partition, offset + i, ms + i, n))
        self.ends[partition] = offset + len(lines) + marker
        if committed:
            self.commit_points.append(ms + len(lines))


def ledger_of(lines: int) -> Ledger:
    ledger = Ledger()
    generation = ledger.new_file(1, 1)
    ledger.wrote(generation, [(n, n * 10, f"line {n}") for n in range(lines)])
    return ledger


def check(log: Log, lines: int = 40) -> TransactionProof:
    return prove("made up", log.records, log.commit_points, [KILL], ledger_of(lines), False)


def dead_agent(log: Log) -> None:
    """Commits lines 0-29 in three transactions (partitions 0, 1, 0), then opens one for
    30-39 in partition 2 that the kill interrupts (no marker: the mock cluster's takeover)."""
    log.transaction(0, range(0, 10), BEFORE)
    log.transaction(1, range(10, 20), BEFORE + 100)
    log.transaction(0, range(20, 30), BEFORE + 200)
    log.transaction(2, range(30, 40), BEFORE + 300, committed=False, marker=False)


def test_a_correct_agent_resends_only_the_interrupted_transaction_and_passes() -> None:
    log = Log()
    dead_agent(log)
    log.transaction(2, range(30, 40), AFTER)
    proof = check(log)
    assert proof.problems == []
    assert proof.raw.duplicates == 10
    assert [(r.partition, r.numbers[0]) for r in proof.removed] == [(2, 30)]
    assert proof.kept is not None
    assert proof.kept.duplicates == 0
    assert not proof.kept.lost
    assert proof.cuts_without_marker == 1


def test_an_agent_resending_a_committed_transaction_in_the_same_partition_is_caught() -> None:
    log = Log()
    dead_agent(log)
    log.transaction(0, range(0, 10), AFTER)  # resumed from an old checkpoint
    log.transaction(1, range(10, 20), AFTER + 100)
    log.transaction(0, range(20, 30), AFTER + 200)
    log.transaction(2, range(30, 40), AFTER + 300)
    proof = check(log)
    assert proof.kept is not None
    assert proof.kept.duplicates == 10


def test_an_agent_resending_committed_transactions_in_other_partitions_is_caught() -> None:
    log = Log()
    dead_agent(log)
    log.transaction(0, range(20, 30), AFTER)  # the last committed one is resent, and the open one
    log.transaction(2, range(30, 40), AFTER + 100)
    proof = check(log)
    # Each removed run is the last of its partition, but a commit lies between them.
    assert proof.kept is not None
    assert proof.kept.duplicates == 0
    assert any("commit points inside" in p for p in proof.problems), proof.problems


def test_records_stamped_between_a_kill_and_the_restart_are_reported() -> None:
    log = Log()
    log.transaction(0, range(0, 40), 100_200)
    assert any("mid-kill" in p for p in check(log).problems)


def test_a_record_of_the_dead_agent_after_one_of_its_successor_is_reported() -> None:
    log = Log()
    log.transaction(0, range(0, 20), AFTER)
    log.transaction(0, range(20, 40), BEFORE)
    assert any("earlier agent run" in p for p in check(log).problems)
