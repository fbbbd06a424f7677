"""The benchmark's generated inputs are what the scenarios claim: Java events that the
java_stacktrace preset joins exactly, JSON lines the json rule parses, and the latency
percentile used in the report."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from benchmarks.java_log import JAVA_RULE, events, write
from benchmarks.json_lines import JSON_RULE
from benchmarks.json_lines import lines as json_lines
from benchmarks.latency import percentile
from logship.tail.framing import LineFramer
from logship.tail.multiline import MultilineAssembler, MultilineSettings
from parsers.section import ParsersSettings


def test_the_java_preset_joins_generated_lines_into_exactly_the_generated_events(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    physical, count = write(log, 5000)
    asm = MultilineAssembler(MultilineSettings.model_validate({"preset": "java_stacktrace"}))
    framed = LineFramer(0, 1 << 20).feed(log.read_bytes())
    assert len(framed.texts) == physical
    joined = asm.feed(framed).texts + asm.flush().texts
    expected = ["\n".join(event) for event in events(5000)]
    assert joined == expected
    assert count == len(expected)
    assert sum(1 for text in joined if "\n\tat " in text) > count // 20  # traces are there


def test_the_log4j_rule_is_a_valid_agent_rule_matching_every_generated_event_whole() -> None:
    ParsersSettings.model_validate({"rules": [JAVA_RULE]})
    rx = re.compile(str(JAVA_RULE["regex"]))
    for event in events(3000):
        m = rx.match("\n".join(event))
        assert m is not None, event[0]
        assert m["message"].count("\n") == len(event) - 1


def test_generated_json_lines_are_objects_with_the_fields_the_rule_reads() -> None:
    ParsersSettings.model_validate({"rules": [JSON_RULE]})
    docs = [orjson.loads(line) for line in json_lines(100)]
    assert all({"time", "level", "msg"} <= doc.keys() for doc in docs)
    assert len({doc["request_id"] for doc in docs}) == 100


def test_percentiles_use_the_nearest_rank_in_milliseconds() -> None:
    values = sorted(n * 1_000_000 for n in range(1, 101))  # 1..100 ms
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7_000_000], 0.99) == 7
