"""Kafka exactly-once, proved as far as the brokers here allow: every duplicate that a
`read_committed` consumer sees belongs to a transaction the crash left uncommitted.

Neither librdkafka's mock cluster nor Tansu 0.6 hides aborted records from `read_committed`
consumers (tests/prove/test_kafka_broker_evidence.py measures it), so the consumer cannot be
asked directly. What it can see:

- the transaction markers: each commit or abort writes one control record to every partition
  the transaction touched, which takes an offset the consumer never gets. A partition's log
  therefore splits into runs of consecutive offsets, one transaction's records each (one
  producer at a time writes, and a multi-record batch takes consecutive offsets);
- the agent runs: a takeover by the restarted agent writes an abort marker on Tansu but *not*
  on the mock cluster, where the dead agent's records and its successor's are contiguous. So
  runs are also cut at each kill, found by the records' timestamps (set by the producer): the
  dead agent stamped nothing after `Crash.killed_at`, its successor nothing before
  `Crash.restarted_at`;
- the offsets topic (1 partition): each committed transaction wrote its checkpoints there just
  before its commit, so those records are the commit points in time.

The transaction a kill interrupts is the last thing the dead agent wrote in every partition it
touched. So, per kill and partition, only the *last* run of the dead agent may go, and only if
every one of its lines arrives again from a later agent run. The removed runs of one kill must
also be one transaction: no kept run of that agent run is later, and no checkpoint record lies
strictly inside their time span. Then what is left must hold every line exactly once, each
file's lines in file order within a partition.

A wrong agent fails this: resending committed transactions that share a partition leaves all
but the last run of it in place (duplicates); in different partitions, the commit point between
them is inside the removed span. What no consumer of these brokers can tell apart (commit and
abort markers look alike to it) is the one residual case: the agent resending exactly the *last*
transaction before a kill although it was committed. That is at most one transaction per kill,
the bound of the check above, and on Apache Kafka (which hides aborted records) the plain count
of duplicates is the proof. Timestamps have millisecond resolution: a commit point in the same
millisecond as the edge of a removed span is not counted as inside it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.prove.crash_loop import Crash
from tests.prove.ledger import Accounting, Ledger


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive offsets of one partition written by one agent run: one transaction's part."""

    partition: int
    epoch: int
    """Which agent run wrote it: 0 before the first kill, k after the k-th restart."""
    first: int
    """Offset of its first record."""
    numbers: tuple[int, ...]
    """Line numbers, in offset order."""
    lo: int
    hi: int
    """Lowest and highest record timestamp (ms)."""


@dataclass
class TransactionProof:
    """The log split into transactions, the runs taken out as uncommitted, and what is left."""

    broker: str
    kills: int
    runs: int
    raw: Accounting
    """Every record the read_committed consumer returned."""
    removed: list[Run] = field(default_factory=list)
    cuts_without_marker: int = 0
    """Kill boundaries where a partition's offsets went on without a gap (no takeover marker)."""
    kept: Accounting | None = None
    """What is left once the removed runs are taken out (must be: 0 lost, 0 duplicates)."""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the report."""
        removed = sum(len(r.numbers) for r in self.removed)
        kept = self.kept.summary() if self.kept is not None else "-"
        per_kill = ", ".join(
            f"{k + 1}: {sum(r.epoch == k for r in self.removed)}" for k in range(self.kills)
        )
        return (
            f"  transactions ({self.broker}): {self.runs:,} runs between markers and kills, "
            f"{self.cuts_without_marker} kill boundaries without a marker\n"
            f"  raw (read_committed): {self.raw.summary()}\n"
            f"  removed as uncommitted: {len(self.removed)} runs ({removed:,} records) "
            f"for {self.kills} kills (runs per kill {per_kill})\n"
            f"  after removal: {kept}"
        )


def epoch_cuts(crashes: Sequence[Crash]) -> tuple[list[int], list[int]]:
    """Per kill, the last millisecond the dead agent can have stamped and the first its
    successor can have (floors, as the producer's timestamps are)."""
    return (
        [int(c.killed_at * 1000) for c in crashes],
        [int(c.restarted_at * 1000) for c in crashes],
    )


def split_runs(
    records: Sequence[tuple[int, int, int, int]], crashes: Sequence[Crash]
) -> tuple[list[Run], int, list[str]]:
    """(partition, offset, timestamp, line) records -> runs, kill cuts without a gap, problems."""
    killed, restarted = epoch_cuts(crashes)
    problems: list[str] = []
    by_partition: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for partition, offset, ts, n in records:
        by_partition[partition].append((offset, ts, n))
    runs: list[Run] = []
    no_marker = 0
    for partition, rows in sorted(by_partition.items()):
        rows.sort()
        current: list[tuple[int, int, int]] = []
        current_epoch = -1
        for offset, ts, n in rows:
            epoch = bisect.bisect_right(restarted, ts)
            if epoch < len(killed) and ts > killed[epoch]:
                # Stamped after a kill and before the restart: the timestamps this proof
                # splits agent runs by cannot be trusted.
                problems.append(f"partition {partition} offset {offset}: stamped {ts} mid-kill")
            if epoch < current_epoch:
                problems.append(f"partition {partition} offset {offset}: from an earlier agent run")
            if current and (offset != current[-1][0] + 1 or epoch != current_epoch):
                no_marker += offset == current[-1][0] + 1
                runs.append(_run(partition, current_epoch, current))
                current = []
            current.append((offset, ts, n))
            current_epoch = epoch
        if current:
            runs.append(_run(partition, current_epoch, current))
    return runs, no_marker, problems


def _run(partition: int, epoch: int, rows: list[tuple[int, int, int]]) -> Run:
    stamps = [ts for _, ts, _ in rows]
    return Run(partition, epoch, rows[0][0], tuple(n for _, _, n in rows), min(stamps), max(stamps))


def prove(
    broker: str,
    records: Sequence[tuple[int, int, int, int]],
    commit_points: Sequence[int],
    crashes: Sequence[Crash],
    ledger: Ledger,
    takeover_marks: bool,
) -> TransactionProof:
    """Splits the log into transactions and takes out the ones the kills left uncommitted.

    `records`: (partition, offset, timestamp ms, line number) as read with read_committed;
    `commit_points`: timestamps of the offsets topic's records; `takeover_marks`: the broker
    writes an abort marker when a restarted agent takes the transactional.id over (Tansu), so
    every kill boundary must also be a gap in the offsets.
    """
    runs, no_marker, problems = split_runs(records, crashes)
    proof = TransactionProof(
        broker, len(crashes), len(runs), ledger.account(n for *_, n in records)
    )
    proof.cuts_without_marker = no_marker
    proof.problems += problems
    if takeover_marks and no_marker:
        proof.problems.append(f"{no_marker} kill boundaries without a marker on {broker}")
    last_epoch: dict[int, int] = defaultdict(int)
    for run in runs:
        for n in run.numbers:
            last_epoch[n] = max(last_epoch[n], run.epoch)
    last_run: dict[tuple[int, int], Run] = {}
    for run in runs:  # in offset order per partition: the last one wins
        last_run[run.partition, run.epoch] = run
    removed = {
        id(run)
        for (_, epoch), run in last_run.items()
        if epoch < len(crashes) and all(last_epoch[n] > epoch for n in run.numbers)
    }
    proof.removed = [run for run in runs if id(run) in removed]
    kept = [run for run in runs if id(run) not in removed]
    _one_transaction_per_kill(proof, kept, commit_points, crashes)
    proof.kept = ledger.account(n for run in kept for n in run.numbers)
    _file_order(proof, kept, ledger)
    return proof


def _one_transaction_per_kill(
    proof: TransactionProof, kept: list[Run], commit_points: Sequence[int], crashes: Sequence[Crash]
) -> None:
    """The runs removed for one kill are the dead agent's last records and one transaction."""
    points = sorted(commit_points)
    for epoch in range(len(crashes)):
        gone = [r for r in proof.removed if r.epoch == epoch]
        if not gone:
            continue
        lo, hi = min(r.lo for r in gone), max(r.hi for r in gone)
        later = [r for r in kept if r.epoch == epoch and r.hi > lo]
        if later:
            proof.problems.append(
                f"kill {epoch + 1}: a kept run of the dead agent is later than a removed one "
                f"(partition {later[0].partition} offset {later[0].first})"
            )
        inside = bisect.bisect_left(points, hi) - bisect.bisect_right(points, lo)
        if inside:
            proof.problems.append(
                f"kill {epoch + 1}: {inside} commit points inside the removed runs' span "
                f"[{lo}, {hi}] ms: they are more than one transaction"
            )


def _file_order(proof: TransactionProof, kept: list[Run], ledger: Ledger) -> None:
    """In each partition, the kept lines of each file are in file order."""
    where = {
        n: (g, i)
        for g, generation in enumerate(ledger.files)
        for i, n in enumerate(generation.numbers)
    }
    latest: dict[tuple[int, int], int] = {}
    for run in kept:
        for n in run.numbers:
            if n not in where:
                continue  # a line never written: counted in `unknown`
            generation, index = where[n]
            if latest.get((run.partition, generation), -1) >= index:
                proof.problems.append(
                    f"partition {run.partition}: line {n} after a later line of its file"
                )
                return
            latest[run.partition, generation] = index
