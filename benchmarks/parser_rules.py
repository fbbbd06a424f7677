"""Per-rule parsing speed: lines/s of every built-in rule through a ParserChain, and the nginx rule
against the baselines it must stay close to, in the same run (figures are ratios within a run).

    python benchmarks/parser_rules.py [--lines 200000] [--repeat 3]

Baselines on the same generated nginx `combined` lines (benchmarks/nginx_log.py):
- `re match + groupdict`: the bare minimum, one regex match and a dict per line;
- `legacy RegexRule`: the rule engine before issue 4 (flat field names, groupdict, a loop for
  types, timestamp cache), with its chain's record assembly (copied here, as it was);
- `regex rule, flat names`: the same regex as a config rule in today's engine;
- `nginx_access built-in`: the shipped ECS rule (nested fields, IP check, vhost / forwarded
  variants), with and without redaction.

Lines for the other built-in rules come from the shared corpora when present, else from the
golden test files. Each chain parses batches of 1,000 lines (a tailer chunk is about that size).

The nginx comparison runs three times: with CPython's default GC thresholds, after `gc.freeze()`
(the start-up objects leave the collector's view), and frozen with a higher gen-0 threshold. ECS
records are nested (about ten dicts per nginx line, against one for flat names), so how often
the cyclic collector runs matters more for them than for flat records; records never form
cycles, so the agent loses nothing by collecting rarely.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import regex

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from nginx_log import lines as nginx_lines  # noqa: E402

from logship.core.lines import Lines  # noqa: E402
from logship.core.record import format_iso  # noqa: E402
from parsers.chain import ParserChain  # noqa: E402
from parsers.compiler import compile_rule  # noqa: E402
from parsers.config import RuleSettings  # noqa: E402
from parsers.pattern import compile_rule_pattern  # noqa: E402
from parsers.redaction import BUILTIN_REDACTORS, Redactor  # noqa: E402
from parsers.section import ParsersSettings  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
GOLDEN = REPO / "tests" / "parsers" / "golden"
BATCH = 1000
FILE_INFO = {"path": "/var/log/nginx/access.log", "device_id": "2049", "inode": "1234567"}

DEMO_REGEX = (
    r'^(?P<source_ip>\S+) - (?P<user_name>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) '
    r'(?P<url>\S+) (?P<http_version>[^"]+)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referrer>[^"]*)" "(?P<user_agent>[^"]*)"'
)

# Which corpus files (relative to the corpora folder) feed which built-in rule.
RULE_SAMPLES: dict[str, list[str]] = {
    "nginx_access": ["filebeat/nginx-access.log", "filebeat/nginx-access-test.log"],
    "apache_access": ["elastic-examples/apache_access.log"],
    "nginx_error": ["filebeat/nginx-error.log"],
    "apache_error": ["loghub/Apache/Apache_2k.log"],
    "syslog_rfc3164": ["loghub/Linux/Linux_2k.log", "loghub/Mac/Mac_2k.log"],
    "sshd": ["loghub/OpenSSH/OpenSSH_2k.log"],
    "sudo": ["filebeat/auth-test.log"],
    "java_log4j": ["loghub/Hadoop/Hadoop_2k.log", "loghub/Zookeeper/Zookeeper_2k.log"],
    "kafka": ["elastic-examples/kafka_controller.log", "elastic-examples/kafka_server.log"],
    "hdfs": ["loghub/HDFS/HDFS_2k.log"],
    "openstack": ["loghub/OpenStack/OpenStack_2k.log"],
    "android_logcat": ["loghub/Android/Android_2k.log"],
    "healthapp": ["loghub/HealthApp/HealthApp_2k.log"],
    "windows_cbs": ["loghub/Windows/Windows_2k.log"],
    "proxifier": ["loghub/Proxifier/Proxifier_2k.log"],
    "bgl": ["loghub/BGL/BGL_2k.log"],
    "thunderbird": ["loghub/Thunderbird/Thunderbird_2k.log"],
    "hpc": ["loghub/HPC/HPC_2k.log"],
    "generic_timestamp_level": ["loghub/Hadoop/Hadoop_2k.log", "loghub/Zookeeper/Zookeeper_2k.log"],
}


# --- the engine before issue 4, copied as it was (baseline) --------------------------------


class _LegacyTimestamp:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> str | None:
        hit = self.cache.get(text, self.cache)
        if hit is not self.cache:
            return hit  # type: ignore[return-value]
        try:
            value: str | None = format_iso(dt.datetime.strptime(text, self.fmt))
        except ValueError:
            value = None
        if len(self.cache) >= 4096:
            self.cache.clear()
        self.cache[text] = value
        return value


class _LegacyRule:
    def __init__(self) -> None:
        self.name = "legacy"
        self._match = re.compile(DEMO_REGEX).match
        self._types = [("status", int), ("bytes", int)]
        self._ts = _LegacyTimestamp("%d/%b/%Y:%H:%M:%S %z")

    def parse(self, line: str) -> tuple[dict[str, Any], str | None] | None:
        m = self._match(line)
        if m is None:
            return None
        fields = m.groupdict()
        if None in fields.values():
            fields = {k: v for k, v in fields.items() if v is not None}
        tags = None
        for name, convert in self._types:
            value = fields.get(name)
            if value is not None:
                try:
                    fields[name] = convert(value)
                except ValueError:
                    tags = ["type_conversion_failure"]
        raw = fields.pop("time", None)
        timestamp = self._ts(raw) if raw is not None else None
        del tags
        return fields, timestamp


def _legacy_chain(rule: _LegacyRule, host: str) -> Callable[[Lines, str], list[dict[str, Any]]]:
    def parse(lines: Lines, read_time: str) -> list[dict[str, Any]]:
        entries = []
        for text, start in zip(lines.texts, lines.starts, strict=True):
            parsed = rule.parse(text)
            if parsed is None:
                entries.append({"message": text})
                continue
            fields, timestamp = parsed
            entry = {"@timestamp": timestamp or read_time, "message": text}
            log = {"file": FILE_INFO.copy(), "offset": start}
            entry.update(fields)
            entry["log"] = log
            entry["host"] = {"name": host}
            entries.append(entry)
        return entries

    return parse


# --- measuring -------------------------------------------------------------------------------


def batches(texts: Sequence[str]) -> list[Lines]:
    """Framed batches of BATCH lines with increasing offsets."""
    out = []
    offset = 0
    for i in range(0, len(texts), BATCH):
        chunk = list(texts[i : i + BATCH])
        starts = []
        for t in chunk:
            starts.append(offset)
            offset += len(t) + 1
        out.append(Lines(chunk, starts, offset, []))
    return out


def best_rate(run: Callable[[], int], repeat: int) -> float:
    """Lines per second of the fastest of `repeat` runs."""
    return best_rates({"x": run}, repeat)["x"]


def best_rates(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, float]:
    """Lines per second of each contender, best of `repeat` rounds; each round runs every
    contender once, so a noisy neighbour slows all of them alike rather than one."""
    best = dict.fromkeys(runs, float("inf"))
    counts = dict.fromkeys(runs, 0)
    for _ in range(repeat):
        for label, run in runs.items():
            start = time.perf_counter()
            counts[label] = run()
            best[label] = min(best[label], time.perf_counter() - start)
    return {label: counts[label] / best[label] for label in runs}


def chain_runner(chain: ParserChain, work: list[Lines]) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for lines in work:
            entries, _ = chain.parse(lines, FILE_INFO, "2026-11-24T10:00:00.000Z")
            n += len(entries)
        return n

    return run


GOLDEN_FILES = {
    "python_logging_timestamped": "python_logging",
    "sshd": "linux_auth",
    "sudo": "linux_auth",
}
"""Rules whose golden lines live in the file of a chain."""


def sample_lines(rule: str, limit: int) -> list[str]:
    """Lines for a rule: its corpus files, else its golden file; repeated up to `limit`."""
    texts: list[str] = []
    if CORPORA.is_dir():
        for rel in RULE_SAMPLES.get(rule, []):
            path = CORPORA / rel
            if path.is_file():
                texts.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    if not texts:
        golden = GOLDEN / f"{GOLDEN_FILES.get(rule, rule)}.log"
        if golden.is_file():
            texts = golden.read_text(encoding="utf-8").splitlines()
    if not texts:
        return []
    return (texts * (limit // len(texts) + 1))[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, repeat = args.lines, args.repeat
    section = ParsersSettings()
    library = section.library

    def builtin(name: str) -> Any:
        return compile_rule(section.rule(name), library, section.timezone)

    texts = [line.rstrip("\n") for line in nginx_lines(n)]
    work = batches(texts)
    print(f"# {n:,} generated nginx combined lines, batches of {BATCH}, best of {repeat}")

    demo = re.compile(DEMO_REGEX)

    def bare() -> int:
        out = []
        match = demo.match
        for text in texts:
            m = match(text)
            if m is not None:
                out.append(m.groupdict())
        return len(out)

    legacy = _legacy_chain(_LegacyRule(), "node-1")

    def run_legacy() -> int:
        return sum(len(legacy(lines, "2026-11-24T10:00:00.000Z")) for lines in work)

    flat_rule = compile_rule(
        RuleSettings.model_validate(
            {
                "name": "flat",
                "regex": DEMO_REGEX,
                "types": {"status": "int", "bytes": "int"},
                "timestamp": {"field": "time", "format": "%d/%b/%Y:%H:%M:%S %z"},
            }
        ),
        library,
    )
    nginx_chain = ParserChain([builtin("nginx_access")], "node-1")
    redacting = ParserChain(
        [builtin("nginx_access")], "node-1", redactor=Redactor(BUILTIN_REDACTORS)
    )
    contenders = {
        "re match + groupdict": bare,
        "legacy RegexRule + chain": run_legacy,
        "regex rule, flat names": chain_runner(ParserChain([flat_rule], "node-1"), work),
        "nginx_access built-in": chain_runner(nginx_chain, work),
        "nginx_access + redaction (all built-ins)": chain_runner(redacting, work),
    }
    thresholds = gc.get_threshold()
    for title, freeze, threshold in (
        (f"gc defaults {thresholds}", False, thresholds),
        ("gc.freeze() after start-up", True, thresholds),
        ("gc.freeze() + gc.set_threshold(50_000, 20, 100)", True, (50_000, 20, 100)),
    ):
        gc.collect()
        if freeze:
            gc.freeze()
        gc.set_threshold(*threshold)
        rates = best_rates(contenders, repeat)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        base = rates["re match + groupdict"]
        legacy_rate = rates["legacy RegexRule + chain"]
        print(f"\nnginx lines, {title}")
        print(f"{'':42} {'lines/s':>9} {'us/line':>7} {'x bare':>6} {'x legacy':>8}")
        for label, rate in rates.items():
            print(
                f"{label:42} {rate:>9,.0f} {1e6 / rate:>7.2f} {base / rate:>6.2f} "
                f"{legacy_rate / rate:>8.2f}"
            )

    expanded = library.expand(section.rule("nginx_access").grok or "").regex
    pattern = compile_rule_pattern(expanded)
    with_regex = regex.compile(pattern.compiled.pattern, flags=regex.VERSION0)

    def engine(match: Callable[[str], Any]) -> Callable[[], int]:
        def run() -> int:
            return sum(1 for t in texts if match(t) is not None)

        return run

    engines = best_rates(
        {"re": engine(pattern.compiled.match), "regex": engine(with_regex.match)}, repeat
    )
    re_rate, regex_rate = engines["re"], engines["regex"]
    print(
        f"\nnginx_access pattern match only: re {re_rate:,.0f}/s, regex {regex_rate:,.0f}/s "
        f"(re is {regex_rate and re_rate / regex_rate:.2f}x regex)"
    )

    print(f"\n{'built-in rule':28} {'lines':>8} {'matched':>8} {'lines/s':>10} {'us/line':>8}")
    per_rule = min(n, 50_000)
    for name in section.rule_names():
        entry = section.entry(name)
        if entry is None or not entry.builtin:
            continue
        sample = sample_lines(name, per_rule)
        if not sample:
            print(f"{name:28} {'(no sample lines)':>8}")
            continue
        chain = ParserChain([builtin(name)], "node-1")
        sample_work = batches(sample)
        matched = sum(chain.parse(b, FILE_INFO, "t")[1].matched.get(name, 0) for b in sample_work)
        rate = best_rate(chain_runner(chain, sample_work), repeat)
        print(f"{name:28} {len(sample):>8} {matched:>8} {rate:>10,.0f} {1e6 / rate:>8.2f}")


if __name__ == "__main__":
    main()
