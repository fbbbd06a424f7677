"""Sink outages under steady load: the sink goes away (or turns slow) while lines keep coming.

A writer appends `rate` lines/s (rotating by rename); after a warm-up the sink becomes
unavailable, or slow, for `outage` seconds, then recovers while the writer goes on a little
longer. Throughout, a sampler records the agent's resident memory; during a full outage the
checkpoints are sampled too. Afterwards every line is accounted for, the backlog must drain and
every file's checkpoint reach its end.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import AgentProcess, wait_until, write_config
from tests.prove.crash_loop import checkpoints, config_doc, owed
from tests.prove.ledger import Accounting, Ledger
from tests.prove.process_tree import rss_bytes
from tests.prove.targets import Target
from tests.prove.writer import LogWriter

MIB = 1 << 20


class RssSampler(threading.Thread):
    """Samples a process's resident memory every `interval` seconds, labelled with a phase."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.interval = interval
        self.phase = "warm-up"
        self.samples: list[tuple[float, str, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            rss = rss_bytes(self.pid)
            if rss:
                self.samples.append((time.monotonic(), self.phase, rss))

    def peak(self, *phases: str) -> int:
        """Highest RSS sampled in these phases."""
        return max((rss for _, phase, rss in self.samples if phase in phases), default=0)

    def halt(self) -> None:
        """Stops sampling."""
        self._halt.set()
        self.join(timeout=10)


@dataclass
class OutageReport:
    """What one outage did to the agent."""

    seed: int
    target: str
    kind: str
    outage_s: float
    rate: float
    rss_steady: int = 0
    rss_outage_early: int = 0
    """Peak RSS in the first half of the outage."""
    rss_outage: int = 0
    rss_drain: int = 0
    drain_s: float = 0.0
    checkpoint_violations: list[str] = field(default_factory=list)
    accounting: Accounting | None = None

    def text(self) -> str:
        """A readable report."""
        rows = [
            f"{self.kind} sink {self.target} for {self.outage_s:.0f} s at {self.rate:,.0f} lines/s "
            f"(seed {self.seed})",
            f"  RSS steady {self.rss_steady / MIB:.1f} MiB, outage peak {self.rss_outage / MIB:.1f} "
            f"MiB (first half {self.rss_outage_early / MIB:.1f}), drain peak "
            f"{self.rss_drain / MIB:.1f} MiB",
            f"  backlog drained {self.drain_s:.1f} s after recovery",
        ]
        if self.accounting is not None:
            rows.append(f"  {self.accounting.summary()}")
        return "\n".join(rows)


def run_outage(
    root: Path,
    target: Target,
    ledger: Ledger,
    agents: list[AgentProcess],
    seed: int,
    *,
    kind: str,
    rate: float,
    warmup: float,
    outage: float,
    after: float,
) -> OutageReport:
    """Runs one outage (`kind`: down or slow) and returns what was measured."""
    rng = random.Random(seed)
    report = OutageReport(seed, target.name, kind, outage, rate)
    total = int(rate * (warmup + outage + after))
    writer = LogWriter(
        root / "logs",
        ledger,
        total,
        random.Random(rng.random()),
        rate=rate,
        rotate_every=max(10_000, total // 3),
    )
    doc = config_doc(root, target, workers=1)
    agent = AgentProcess(write_config(root / "agent.yaml", doc)).start()
    agents.append(agent)
    agent.wait_for_log("Agent started.", timeout=60)
    sampler = RssSampler(agent.pid)
    sampler.start()
    writer.start()
    try:
        # Steady state: the agent keeps up with the writer.
        wait_until(
            lambda: len(target.numbers()) >= rate * warmup * 0.8,
            timeout=warmup * 10 + 60,
            message="the warm-up lines",
        )
        report.rss_steady = sampler.peak("warm-up")
        sampler.phase = "outage-early"
        target.down() if kind == "down" else target.slow()
        began = time.monotonic()
        samples: list[dict[str, int]] = []
        while time.monotonic() - began < outage:
            if kind == "down":
                samples.append({k: cp.offset for k, cp in checkpoints(root).items()})
            if time.monotonic() - began > outage / 2:
                sampler.phase = "outage-late"
            time.sleep(0.25)  # sampling the outage as it lasts, not waiting for a condition
        sampler.phase = "drain"
        target.up() if kind == "down" else target.fast()
        recovered = time.monotonic()
        if kind == "down":
            # No checkpoint taken during the outage may lie past a line that had not been
            # delivered when it ended.
            counts, _ = ledger.counts(target.delivered_while_down())
            first_missing = ledger.lowest_undelivered_offsets(counts)
            for sample in samples:
                for key, offset in sample.items():
                    limit = first_missing.get(key)
                    if limit is not None and offset > limit:
                        report.checkpoint_violations.append(f"{key}: {offset} > {limit}")
        writer.join(timeout=after + outage + 120)
        assert writer.error is None, writer.error

        def every_line_arrived() -> bool:
            counts, _ = ledger.counts(target.numbers())
            return len(counts) == total and all(counts)

        wait_until(every_line_arrived, timeout=600, interval=0.2, message="the backlog to drain")
        report.drain_s = time.monotonic() - recovered
        wait_until(lambda: not owed(root, ledger), timeout=120, message="checkpoints at the end")
    finally:
        sampler.halt()
    report.rss_outage_early = sampler.peak("outage-early")
    report.rss_outage = sampler.peak("outage-early", "outage-late")
    report.rss_drain = sampler.peak("drain")
    code = agent.stop(timeout=60)
    assert code == 0, f"graceful stop exited {code}:\n{agent.stderr_text()[-3000:]}"
    target.settle()
    report.accounting = ledger.account(target.numbers())
    return report
