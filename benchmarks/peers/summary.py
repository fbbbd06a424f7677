"""The race's summary: per contender, the medians over the rounds and whether its output was right.

Shared by the file race (`compare.py`) and the Kafka race (`kafka_race.py`).
"""

from __future__ import annotations

from benchmarks.agent_run import Measurement


def median(values: list[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def ratio_table(runs: dict[str, list[Measurement]]) -> list[str]:
    """logship / peer for lines/s and lines per CPU-second (medians over the rounds)."""
    ours = runs["logship"]
    rows = [f"{'logship / peer':<28} {'lines/s':>10} {'lines/CPU-s':>12}"]
    for name, theirs in runs.items():
        if name == "logship" or not theirs:
            continue
        rate = median([m.lines_per_s for m in ours]) / median([m.lines_per_s for m in theirs])
        per_cpu = median([m.lines_per_cpu_s for m in ours]) / median(
            [m.lines_per_cpu_s for m in theirs]
        )
        rows.append(f"{'/ ' + name:<28} {rate:>9.2f}x {per_cpu:>11.2f}x")
    if len(ours) > 1:
        rows.append(f"(medians of {len(ours)} rounds; the contenders take turns in each round)")
    return rows


def summary_table(
    runs: dict[str, list[Measurement]], correct: dict[str, list[bool]], passed: str = "verified"
) -> list[str]:
    """One row per contender: median lines/s, CPU s and lines per CPU-second, the highest peak
    RSS, and whether every round's output passed the check (`passed` names the check)."""
    rows = [
        f"{'contender':<12} {'lines/s':>10} {'CPU s':>7} {'lines/CPU-s':>12} {'peak RSS MiB':>13}"
        "  output"
    ]
    for name, measured in runs.items():
        if not measured:
            continue
        checks = correct.get(name, [])
        verdict = (
            f"{passed} ({len(checks)} of {len(checks)} runs)"
            if checks and all(checks)
            else f"WRONG in {checks.count(False)} of {len(checks)} runs"
        )
        rows.append(
            f"{name:<12} {median([m.lines_per_s for m in measured]):>10,.0f} "
            f"{median([m.cpu_s for m in measured]):>7.2f} "
            f"{median([m.lines_per_cpu_s for m in measured]):>12,.0f} "
            f"{max(m.peak_rss_mib for m in measured):>13.0f}  {verdict}"
        )
    return rows
