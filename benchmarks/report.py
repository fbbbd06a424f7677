"""What a benchmark scenario hands back: its measurements and notes, printable alone or together.

Every scenario module has `run(lines, keep) -> Report` for the suite and a `main()` to run it
alone; both print the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.agent_run import HEADER, Measurement


@dataclass
class Report:
    """The result of one scenario: rows measured the same way, plus free-text notes (ratios,
    latency percentiles, a helper process's CPU) and a reason when it was skipped."""

    scenario: str
    title: str
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    def text(self) -> str:
        """The scenario as a plain-text block: title, table, notes."""
        out = [f"== {self.scenario}: {self.title}"]
        if self.skipped:
            out.append(f"   skipped: {self.skipped}")
            return "\n".join(out)
        if self.measurements:
            out.append(HEADER)
            out += [m.row() for m in self.measurements]
        out += [f"   {note}" for note in self.notes]
        return "\n".join(out)


MARKDOWN_HEADER = (
    "| scenario | run | lines | wall s | lines/s | MiB/s | CPU s (user+sys) | lines/CPU-s "
    "| peak RSS MiB |\n|---|---|--:|--:|--:|--:|--:|--:|--:|"
)


def markdown(reports: list[Report]) -> str:
    """All reports as one Markdown table (for RESULTS.md), notes listed under it."""
    rows = [MARKDOWN_HEADER]
    notes: list[str] = []
    for report in reports:
        if report.skipped:
            rows.append(f"| {report.scenario} | skipped: {report.skipped} | | | | | | | |")
            continue
        for m in report.measurements:
            rows.append(
                f"| {report.scenario} | {m.name} | {m.lines:,} | {m.wall_s:.2f} "
                f"| {m.lines_per_s:,.0f} | {m.mib_per_s:.1f} "
                f"| {m.cpu_s:.2f} ({m.cpu_user_s:.2f}+{m.cpu_sys_s:.2f}) "
                f"| {m.lines_per_cpu_s:,.0f} | {m.peak_rss_mib:.0f} |"
            )
        notes += [f"- {report.scenario}: {note}" for note in report.notes]
    return "\n".join(rows + (["", *notes] if notes else []))
