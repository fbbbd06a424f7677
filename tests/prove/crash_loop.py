"""The crash loop: ship numbered lines while killing the agent with SIGKILL at random moments.

A writer appends lines at a steady rate and rotates its files by rename; the agent is killed
(`kill -9`, every process of it when it runs workers) and restarted, again and again. At each
crash the loop notes how many delivered lines lay at or past the checkpoint: those are the
in-flight window that the restart sends again. At the end every line is accounted for.

Random choices (line lengths, rotation points, kill moments) come from one seed, printed by the
`seed` fixture: `LOGSHIP_PROVE_SEED=<seed>` replays the same plan. The interleaving with the
agent's threads is the machine's, so a replay repeats the schedule, not every instant.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logship.state.checkpoint import CheckpointError
from logship.state.shard import read_all
from tests.harness import AgentProcess, wait_until, write_config
from tests.prove.ledger import RULE, Accounting, Ledger
from tests.prove.process_tree import kill_tree
from tests.prove.targets import Target
from tests.prove.writer import LogWriter

CHECKPOINT_INTERVAL = 0.2


@dataclass(frozen=True, slots=True)
class Crash:
    """One kill: when, and what the agent had delivered and checkpointed by then."""

    number: int
    mode: str
    """start-up (soon after a start) or mid-stream (after progress and a checkpoint)."""
    moment: str
    delivered: int
    """Distinct lines delivered when the agent died."""
    past_checkpoint: int
    """Of those, lines at or past their file's checkpoint: sent again after the restart."""
    checkpointed: bool
    """Whether this run wrote a checkpoint before it died."""
    killed_at: float = 0.0
    """Unix time just after the agent was dead: it produced nothing later."""
    restarted_at: float = 0.0
    """Unix time just before the next start: its successor produced nothing earlier."""


@dataclass
class CrashLoopReport:
    """Everything the loop observed."""

    seed: int
    target: str
    crashes: list[Crash] = field(default_factory=list)
    accounting: Accounting | None = None
    rotations: int = 0
    seconds: float = 0.0

    @property
    def window(self) -> int:
        """Lines past the checkpoint, summed over every crash: the most a restart can resend."""
        return sum(c.past_checkpoint for c in self.crashes)

    def text(self) -> str:
        """A readable report (printed; pytest shows it with the failure)."""
        rows = [
            f"crash loop, sink {self.target}, seed {self.seed}: {len(self.crashes)} kills, "
            f"{self.rotations} rotations, {self.seconds:.1f} s",
            *(
                f"  kill {c.number:>2} {c.mode:<10} {c.moment:<26} delivered {c.delivered:>8,}"
                f"  past the checkpoint {c.past_checkpoint:>7,}"
                f"{'' if c.checkpointed else '  (this run wrote no checkpoint)'}"
                for c in self.crashes
            ),
            f"  sum of the windows: {self.window:,}",
        ]
        if self.accounting is not None:
            rows.append(f"  {self.accounting.summary()}")
        return "\n".join(rows)


def config_doc(root: Path, target: Target, workers: int) -> dict[str, Any]:
    """The agent's config: the writer's files (rotated ones too) through the numbered rule."""
    return {
        "agent": {
            "data_dir": str(root / "data"),
            "checkpoint_interval": f"{int(CHECKPOINT_INTERVAL * 1000)}ms",
            "workers": workers,
            "http": {"address": None},
        },
        "inputs": [
            {
                "name": "app",
                "paths": [str(root / "logs" / "app-*.log*")],
                "parsers": ["numbered"],
                "poll_interval": "50ms",
                "scan_interval": "500ms",
            }
        ],
        "parsers": [RULE],
        "sinks": [target.sink()],
    }


def checkpoints(root: Path) -> dict[str, Any]:
    """The registry as the dead agent left it (any layout of workers)."""
    try:
        return dict(read_all(root / "data"))
    except (CheckpointError, FileNotFoundError):
        return {}


def checkpointed_since(root: Path, since: float) -> bool:
    """True if a registry file was written after `since` (Unix time)."""
    return any(p.stat().st_mtime > since for p in (root / "data").glob("registry*.json"))


def owed(root: Path, ledger: Ledger) -> dict[str, tuple[int, int]]:
    """Files whose checkpoint is short of their size: key -> (checkpoint, size)."""
    sizes = {}
    for path in (root / "logs").iterdir():
        st = path.stat()
        sizes[f"{st.st_dev}:{st.st_ino}"] = st.st_size
    saved = checkpoints(root)
    out = {}
    for generation in ledger.files:
        offset = saved[generation.key].offset if generation.key in saved else 0
        if offset != sizes[generation.key]:
            out[generation.key] = (offset, sizes[generation.key])
    return out


def log_size(agent: AgentProcess) -> int:
    """How much the agent has written to its stderr so far (over every start)."""
    try:
        return agent.stderr_path.stat().st_size
    except FileNotFoundError:
        return 0


def has_started(agent: AgentProcess, since: int) -> bool:
    """True once the agent logged "Agent started." after `since` bytes of its stderr."""
    with agent.stderr_path.open("rb") as f:
        f.seek(since)
        return b'"message":"Agent started."' in f.read()


def crash(agent: AgentProcess, workers: int) -> None:
    """kill -9: the agent's process, or every process of it (a node crash: nobody drains)."""
    if workers == 1:
        agent.kill()
    else:
        kill_tree(agent.pid)
        agent.wait(timeout=30)


def run_crash_loop(
    root: Path,
    target: Target,
    ledger: Ledger,
    agents: list[AgentProcess],
    seed: int,
    total: int,
    kills: int,
    rate: float,
    workers: int = 1,
    files: int = 1,
) -> CrashLoopReport:
    """Ships `total` lines through `kills` crashes and a final graceful stop; returns the report."""
    rng = random.Random(seed)
    report = CrashLoopReport(seed, target.name)
    started = time.monotonic()
    writer = LogWriter(
        root / "logs",
        ledger,
        total,
        random.Random(rng.random()),
        rate=rate,
        files=files,
        rotate_every=max(1000, total // (4 * files)),
    )
    config = write_config(root / "agent.yaml", config_doc(root, target, workers))
    agent = AgentProcess(config)
    agents.append(agent)
    step = total / (kills + 1)
    received_at_kill = 0
    agent.start()
    started_at = time.time()
    last_start = 0
    writer.start()
    for number in range(1, kills + 1):
        if rng.random() < 0.3:
            # During start-up or the replay of the in-flight window, perhaps before this run
            # wrote any checkpoint.
            mode = "start-up"
            delay = rng.uniform(0.05, 1.0)
            moment = f"{delay:.2f} s after start"
        else:
            # Mid-stream: after some progress since the last kill (records counted with their
            # copies) and after this run wrote a checkpoint (unless it had nothing left to ack).
            mode = "mid-stream"
            threshold = min(received_at_kill + rng.uniform(0.3, 1.5) * step, 0.97 * total)
            wait_until(
                lambda threshold=threshold, since=started_at: (
                    len(target.numbers()) >= threshold
                    and (checkpointed_since(root, since) or not owed(root, ledger))
                ),
                timeout=180,
                interval=0.02,
                message=f"{threshold:,.0f} records before kill {number} (seed {seed})",
            )
            delay = rng.uniform(0.0, 0.3)
            moment = f"{threshold:,.0f} records + {delay:.2f} s"
        time.sleep(delay)  # the random moment itself, not a wait for a condition
        crash(agent, workers)
        killed_at = time.time()
        target.settle()
        received = target.numbers()
        received_at_kill = len(received)
        counts, _ = ledger.counts(received)
        report.crashes.append(
            Crash(
                number,
                mode,
                moment,
                delivered=sum(1 for c in counts if c),
                past_checkpoint=ledger.past_checkpoint(counts, checkpoints(root)),
                checkpointed=checkpointed_since(root, started_at),
                killed_at=killed_at,
                restarted_at=time.time(),
            )
        )
        last_start = log_size(agent)
        agent.start()
        started_at = time.time()
    writer.join(timeout=600)
    assert writer.error is None, writer.error
    report.rotations = writer.rotations

    def every_line_arrived() -> bool:
        counts, _ = ledger.counts(target.numbers())
        return len(counts) == total and all(counts)

    wait_until(
        every_line_arrived,
        timeout=600,
        interval=0.5,
        message=f"every line after the last restart (seed {seed})\n{report.text()}",
    )
    # Arrived is not acknowledged: the last run may still be replaying its window (Elasticsearch
    # refuses those lines as already indexed). Nothing may stay owed once it caught up.
    wait_until(
        lambda: owed(root, ledger) == {},
        timeout=300,
        interval=0.2,
        message=f"checkpoints at every file's end (seed {seed})",
    )
    # A SIGTERM before the agent installed its handlers ends it by the signal (-15): wait for
    # the last start to complete, then stop it gracefully.
    wait_until(lambda: has_started(agent, last_start), timeout=60, message="the last restart")
    code = agent.stop(timeout=60)
    assert code == 0, f"graceful stop exited {code}:\n{agent.stderr_text()[-3000:]}"
    assert owed(root, ledger) == {}, "the final checkpoint went back"
    target.settle()
    report.accounting = ledger.account(target.numbers())
    report.seconds = time.monotonic() - started
    return report
