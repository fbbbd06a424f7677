"""Enrichment overhead: nginx file -> file with `enrich: [user_agent, geoip, url]` against none,
in the same run.

    python benchmarks/enrich_overhead.py [--lines N] [--repeat R] [--keep]

Both runs parse the same generated access log with the built-in ECS rule `nginx_access` (the
steps read `user_agent.original`, `source.ip`, `url.original`). The generator's private
addresses would let `geoip` skip every lookup, so each line's client is replaced by one of
20,000 public addresses drawn with a heavy head (a few clients send most requests, as on a real
site), 40% of them in the networks of MaxMind's test databases (tests/enrich/data; the others
are looked up and not found). User agents are the generator's few (cached after their first
line). Rounds alternate the order; reported: lines/s, lines per CPU-second, peak RSS of each,
and the ratios of the medians (target: enrichment keeps >= 75% of the lines per CPU-second).

Also, in this process: the `user_agent` step's cost per uncached agent string with ua-parser's
Rust resolver (ua-parser-rs) and with its pure-Python one, for the cache-miss side.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.agent_run import LineCounter, Measurement, agent_doc, run_agent, write_config
from benchmarks.nginx_log import OUT, lines
from benchmarks.report import Report

DATA = Path(__file__).resolve().parent.parent / "tests" / "enrich" / "data"
CITY_DB = DATA / "GeoLite2-City-Test.mmdb"
ASN_DB = DATA / "GeoLite2-ASN-Test.mmdb"
IN_DATABASES = ["81.2.69.{}", "89.160.20.{}", "175.16.199.{}", "216.160.83.{}", "2a02:cf40::{:x}"]


def addresses(count: int, rng: random.Random) -> list[str]:
    """`count` distinct public addresses, 40% in the test databases' networks."""
    out: set[str] = set()
    while len(out) < count:
        if rng.random() < 0.4:
            out.add(rng.choice(IN_DATABASES).format(rng.randrange(1, 255)))
        else:
            first = rng.choice([23, 31, 45, 62, 77, 91, 104, 151, 185, 203])
            out.add(f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
    pool = sorted(out)  # sorted, then shuffled: the same pool every run, popular ones mixed
    rng.shuffle(pool)
    return pool


def write_log(path: Path, count: int) -> None:
    """The generated nginx lines with public client addresses (deterministic)."""
    rng = random.Random(7)
    pool = addresses(20_000, rng)
    with path.open("w", encoding="ascii") as out:
        for line in lines(count):
            client = pool[min(int(rng.paretovariate(1.1)) - 1, len(pool) - 1)]
            out.write(client + line[line.index(" ") :])


ENRICH: list[Any] = [
    "user_agent",
    {"geoip": {"city_db": str(CITY_DB), "asn_db": str(ASN_DB)}},
    "url",
]


def run_once(log: Path, count: int, work: Path, name: str, enrich: bool) -> Measurement:
    data = work / f"data-{name}"
    shutil.rmtree(data, ignore_errors=True)
    out = work / f"{name}.ndjson"
    out.unlink(missing_ok=True)
    options: dict[str, Any] = {"enrich": ENRICH} if enrich else {}
    doc = agent_doc(work, [str(log)], {"type": "file", "path": str(out)}, [], options, workers=1)
    doc["inputs"][0]["parsers"] = ["nginx_access"]
    doc.pop("parsers")
    doc["agent"]["data_dir"] = str(data)
    config = write_config(work / f"{name}.yaml", doc)
    return run_agent(name, config, count, log.stat().st_size, LineCounter(out).poll)


def ua_miss_cost(count: int = 2000) -> list[str]:
    """Microseconds per uncached user agent with each ua-parser resolver available here."""
    from parsers.enrich.user_agent import basic_resolver, default_resolver, parse_with

    rng = random.Random(3)
    agents = [
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{rng.randrange(60, 130)}.0.{rng.randrange(9999)}.{i} Safari/537.36"
        for i in range(count)
    ]
    notes = []
    for label, make in (("ua-parser-rs", default_resolver), ("pure Python", basic_resolver)):
        resolver = make()
        parse_with(resolver, agents[0])  # first use compiles lazily
        start = time.perf_counter()
        for agent in agents[1:]:
            parse_with(resolver, agent)
        per = (time.perf_counter() - start) / (count - 1) * 1e6
        notes.append(
            f"user_agent cache miss with {label} ({type(resolver).__module__}): {per:,.0f} us"
        )
    return notes


def run(count: int, repeat: int = 2, keep: bool = False) -> Report:
    """Rounds of (enrich, none) on the same log; medians and their ratios."""
    work = OUT / "enrich"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "access.log"
    write_log(log, count)
    enriched: list[Measurement] = []
    plain: list[Measurement] = []
    report = Report(
        "enrich",
        f"file -> nginx_access -> file sink, {count:,} lines, enrich [user_agent, geoip, url] vs none",
    )
    for round_ in range(repeat):
        for enrich in [True, False] if round_ % 2 == 0 else [False, True]:
            name = f"enrich #{round_ + 1}" if enrich else f"no enrich #{round_ + 1}"
            m = run_once(log, count, work, name.replace(" ", "-").replace("#", ""), enrich)
            m.name = name
            (enriched if enrich else plain).append(m)
            report.measurements.append(m)

    def median(ms: list[Measurement], attr: str) -> float:
        return statistics.median(getattr(m, attr) for m in ms)

    rate = median(enriched, "lines_per_s") / median(plain, "lines_per_s")
    cpu = median(enriched, "lines_per_cpu_s") / median(plain, "lines_per_cpu_s")
    report.notes.append(
        f"enrich / none: {rate:.0%} of the lines/s, {cpu:.0%} of the lines per CPU-second "
        f"(medians of {repeat} round(s); target >= 75%); peak RSS "
        f"{median(enriched, 'peak_rss_mib'):.1f} vs {median(plain, 'peak_rss_mib'):.1f} MiB "
        f"(MaxMind's test databases: a real GeoLite2-City file is ~60 MB, memory-mapped)"
    )
    report.notes.extend(ua_miss_cost())
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/out/enrich")
    args = parser.parse_args()
    print(run(args.lines, args.repeat, args.keep).text(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
