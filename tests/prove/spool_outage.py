"""Sink isolation under load: Elasticsearch goes down beside a file sink; Elasticsearch has a spool.

A writer appends numbered lines at a steady rate; after a warm-up the fake Elasticsearch refuses
connections for `outage` seconds, then comes back while the writer goes on. Sampled throughout:
the file sink's lag (lines written but not yet in its output, in seconds at the writer's rate),
the agent's resident memory, the spool folder's size. With `kills`, the agent is also killed
(`kill -9`) at seeded random moments during the outage and during the drain, and restarted.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import AgentProcess, wait_until, write_config
from tests.prove.crash_loop import CHECKPOINT_INTERVAL
from tests.prove.ledger import RULE, Accounting, Ledger
from tests.prove.outage import MIB, RssSampler
from tests.prove.targets import ElasticsearchTarget, FileTarget
from tests.prove.writer import LogWriter


@dataclass
class IsolationReport:
    """What the outage did to each sink."""

    seed: int
    rate: float
    outage_s: float
    max_bytes: int
    file_lag_max_s: float = 0.0
    spool_max_bytes: int = 0
    rss_steady: int = 0
    rss_peak: int = 0
    drain_s: float = 0.0
    kills: list[str] = field(default_factory=list)
    file: Accounting | None = None
    es: Accounting | None = None

    def text(self) -> str:
        """A readable report."""
        rows = [
            f"elasticsearch down {self.outage_s:.0f} s at {self.rate:,.0f} lines/s beside a file "
            f"sink (seed {self.seed}), spool max_bytes {self.max_bytes / MIB:.0f} MiB",
            f"  file sink lag max {self.file_lag_max_s:.2f} s; spool peak "
            f"{self.spool_max_bytes / MIB:.1f} MiB",
            f"  RSS steady {self.rss_steady / MIB:.1f} MiB, peak {self.rss_peak / MIB:.1f} MiB; "
            f"drained {self.drain_s:.1f} s after recovery",
            *(f"  kill: {k}" for k in self.kills),
        ]
        if self.file is not None and self.es is not None:
            rows += [f"  file: {self.file.summary()}", f"  es:   {self.es.summary()}"]
        return "\n".join(rows)


def isolation_config(
    root: Path, file: FileTarget, es: ElasticsearchTarget, max_bytes: int
) -> dict[str, Any]:
    """File sink + Elasticsearch with a spool, one input of numbered lines."""
    return {
        "agent": {
            "data_dir": str(root / "data"),
            "checkpoint_interval": f"{int(CHECKPOINT_INTERVAL * 1000)}ms",
            "workers": 1,
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
        "sinks": [
            file.sink(),
            {**es.sink(), "spool": {"max_bytes": max_bytes, "when_full": "block"}},
        ],
    }


def folder_size(folder: Path) -> int:
    """Bytes of every file in a folder now (files deleted meanwhile count 0)."""
    total = 0
    for p in folder.glob("*"):
        try:
            total += p.stat().st_size
        except FileNotFoundError:
            pass
    return total


def restart_sampler(
    old: RssSampler, agent: AgentProcess, phase: str, report: IsolationReport
) -> RssSampler:
    """A sampler for the restarted agent; the old one's peak is kept in the report."""
    old.halt()
    report.rss_peak = max(report.rss_peak, old.peak("outage", "drain"))
    new = RssSampler(agent.pid)
    new.phase = phase
    new.start()
    return new


def run_isolation(
    root: Path,
    agents: list[AgentProcess],
    seed: int,
    *,
    rate: float,
    warmup: float,
    outage: float,
    after: float,
    max_bytes: int,
    kills: int = 0,
) -> IsolationReport:
    """Runs one outage (with `kills` crashes during it and as many during the drain)."""
    rng = random.Random(seed)
    report = IsolationReport(seed, rate, outage, max_bytes)
    ledger = Ledger(with_ids=True)
    file = FileTarget(root)
    es = ElasticsearchTarget(ledger)
    try:
        total = int(rate * (warmup + outage + after))
        writer = LogWriter(
            root / "logs",
            ledger,
            total,
            random.Random(rng.random()),
            rate=rate,
            rotate_every=max(10_000, total // 3),
        )
        config = write_config(root / "agent.yaml", isolation_config(root, file, es, max_bytes))
        agent = AgentProcess(config).start()
        agents.append(agent)
        agent.wait_for_log("Agent started.", timeout=60)
        sampler = RssSampler(agent.pid)
        sampler.start()
        spool = root / "data" / "spool" / "es"
        writer.start()
        began = time.monotonic()

        def written() -> int:
            return min(total, int((time.monotonic() - began) * rate))

        wait_until(
            lambda: len(file.numbers()) >= rate * warmup * 0.8,
            timeout=warmup * 10 + 60,
            message="the warm-up lines",
        )
        report.rss_steady = sampler.peak("warm-up")
        sampler.phase = "outage"
        es.down()
        down_at = time.monotonic()
        kill_at = sorted(rng.uniform(0.2, 0.9) * outage for _ in range(kills))
        while time.monotonic() - down_at < outage:
            lag = (written() - len(set(file.numbers()))) / rate
            report.file_lag_max_s = max(report.file_lag_max_s, lag)
            size = folder_size(spool)
            report.spool_max_bytes = max(report.spool_max_bytes, size)
            if kill_at and time.monotonic() - down_at >= kill_at[0]:
                kill_at.pop(0)
                agent.kill()
                report.kills.append(f"during the outage at {time.monotonic() - down_at:.1f} s")
                agent.start()
                sampler = restart_sampler(sampler, agent, "outage", report)
            time.sleep(0.1)  # sampling the outage as it lasts, not waiting for a condition
        sampler.phase = "drain"
        es.up()
        recovered = time.monotonic()
        for number in range(kills):
            # During the drain: after some of the backlog went out, at a seeded moment.
            time.sleep(rng.uniform(0.3, 1.5))
            agent.kill()
            report.kills.append(f"during the drain at {time.monotonic() - recovered:.1f} s")
            agent.start()
            sampler = restart_sampler(sampler, agent, "drain", report)
            del number
        writer.join(timeout=after + outage + 300)
        assert writer.error is None, writer.error

        def all_arrived(numbers: Any) -> bool:
            counts, _ = ledger.counts(numbers)
            return len(counts) == total and all(counts)

        wait_until(
            lambda: all_arrived(es.numbers()) and all_arrived(file.numbers()),
            timeout=60 + 5 * outage,
            interval=0.2,
            message=f"every line in both sinks (seed {seed})",
        )
        report.drain_s = time.monotonic() - recovered
        report.rss_peak = max(report.rss_peak, sampler.peak("outage", "drain"))
        sampler.halt()
        code = agent.stop(timeout=60)
        assert code == 0, f"graceful stop exited {code}:\n{agent.stderr_text()[-3000:]}"
        es.settle()
        report.file = ledger.account(file.numbers())
        report.es = ledger.account(es.numbers())
        return report
    finally:
        es.close()
        file.close()
