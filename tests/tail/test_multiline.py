"""Multiline assembly: events from lines, exact offsets, limits that split rather than drop."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from logship.core.lines import Lines
from logship.tail.framing import LineFramer
from logship.tail.multiline import MultilineAssembler, MultilineSettings


def assemble(
    settings: dict[str, object], data: bytes, pieces: int = 1
) -> tuple[Lines, MultilineAssembler]:
    framer = LineFramer(0, 1 << 20)
    asm = MultilineAssembler(MultilineSettings.model_validate(settings))
    out = Lines()
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        got = asm.feed(framer.feed(data[i : i + step]))
        base = len(out.texts)
        out.texts += got.texts
        out.starts += got.starts
        out.truncated += [base + j for j in got.truncated]
        out.multiline += [base + j for j in got.multiline]
        out.end = got.end
    return out, asm


JAVA = (
    b"2026-11-24 10:00:00 ERROR request failed\n"
    b"java.lang.IllegalStateException: boom\n"
    b"\tat com.example.A.run(A.java:10)\n"
    b"\tat com.example.B.run(B.java:20)\n"
    b"Caused by: java.io.IOException: disk\n"
    b"\t... 3 more\n"
    b"2026-11-24 10:00:01 INFO next\n"
)


def test_java_stack_trace_joins_its_logging_line() -> None:
    out, asm = assemble({"preset": "java_stacktrace"}, JAVA)
    assert len(out.texts) == 1  # the INFO line may still get continuations: it is pending
    assert out.texts[0].startswith(
        "2026-11-24 10:00:00 ERROR request failed\njava.lang.IllegalStateException"
    )
    assert out.texts[0].endswith("\t... 3 more")
    assert out.multiline == [0]
    assert out.end == JAVA.index(b"2026-11-24 10:00:01"), "ack end stops at the pending event"
    last = asm.flush()
    assert last.texts == ["2026-11-24 10:00:01 INFO next"]
    assert last.starts == [JAVA.index(b"2026-11-24 10:00:01")]
    assert last.end == len(JAVA)


def test_events_are_the_same_whatever_the_read_boundaries() -> None:
    whole, _ = assemble({"preset": "java_stacktrace"}, JAVA * 20)
    split, _ = assemble({"preset": "java_stacktrace"}, JAVA * 20, pieces=37)
    assert split.texts == whole.texts
    assert split.starts == whole.starts


def test_negated_start_pattern_joins_everything_until_the_next_start() -> None:
    data = b"[1] a\ncontinued\n  more\n[2] b\n[3] c\n"
    out, asm = assemble({"pattern": r"^\[", "negate": True, "match": "after"}, data)
    assert out.texts == ["[1] a\ncontinued\n  more", "[2] b"]
    assert out.starts == [0, data.index(b"[2]")]
    assert asm.flush().texts == ["[3] c"]


def test_match_before_prepends_continued_lines_to_the_next() -> None:
    data = b"first \\\nsecond \\\nthird\nalone\n"
    out, asm = assemble({"pattern": r"\\$", "match": "before"}, data)
    assert out.texts == ["first \\\nsecond \\\nthird", "alone"]
    assert out.end == len(data)
    assert not asm.pending


def test_max_lines_splits_the_event_and_flags_both_parts_truncated() -> None:
    data = b"start\n" + b"".join(b"  line %d\n" % i for i in range(9)) + b"next\n"
    out, _ = assemble({"preset": "indented_continuation", "max_lines": 4}, data)
    assert [t.count("\n") + 1 for t in out.texts] == [4, 4, 2]
    assert out.truncated == [0, 1, 2]
    assert "".join(t + "\n" for t in out.texts).encode() == data[: data.index(b"next")]


def test_max_bytes_splits_too() -> None:
    data = b"start\n" + b"  " + b"x" * 100 + b"\n" + b"  " + b"y" * 100 + b"\n" + b"next\n"
    out, _ = assemble({"preset": "indented_continuation", "max_bytes": 150}, data)
    assert len(out.texts) == 2
    assert out.truncated == [0, 1]


def test_python_traceback_from_logging_exception_is_one_event(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("multiline-test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("before")
        try:
            try:
                empty: dict[str, int] = {}
                empty["missing"]
            except KeyError as exc:
                raise ValueError("wrapped") from exc
        except ValueError:
            logger.exception("request failed")
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
        handler.close()
    data = path.read_bytes()
    out, asm = assemble({"preset": "python_traceback"}, data)
    events = out.texts + asm.flush().texts
    assert len(events) == 3
    assert events[0].endswith("WARNING multiline-test: before")
    failure = events[1]
    assert "ERROR multiline-test: request failed\nTraceback (most recent call last):" in failure
    assert "KeyError: 'missing'" in failure
    assert "The above exception was the direct cause of the following exception:" in failure
    assert failure.endswith("ValueError: wrapped")
    assert events[2].endswith("after")


def test_settings_need_a_preset_or_a_pattern() -> None:
    with pytest.raises(ValidationError, match="either preset"):
        MultilineSettings.model_validate({})
    with pytest.raises(ValidationError, match="does not compile"):
        MultilineSettings.model_validate({"pattern": "(["})


def test_java_traces_in_the_kafka_corpus_become_one_event_each(corpora: Path) -> None:
    for name, events in (("kafka_controller.log", 803), ("kafka_server.log", 426)):
        data = (corpora / "elastic-examples" / name).read_bytes()
        out, asm = assemble({"preset": "java_stacktrace"}, data, pieces=13)
        texts = out.texts + asm.flush().texts
        assert len(texts) == events, name
        assert all(t.startswith("[") for t in texts), name
        traces = [t for t in texts if "\tat " in t]
        assert traces, name
        assert all(t.split("\n")[1].startswith("java.") for t in traces if t.count("\n") > 1), name


def test_darwin_syslog_continuations_join(corpora: Path) -> None:
    data = (corpora / "filebeat" / "syslog-darwin-multiline.log").read_bytes()
    out, asm = assemble({"preset": "indented_continuation"}, data)
    assert len(out.texts + asm.flush().texts) == 3


def test_java_bracket_preset_gives_one_event_per_bracketed_line_of_the_kafka_corpus(
    corpora: Path,
) -> None:
    for name, events in (("kafka_controller.log", 803), ("kafka_server.log", 426)):
        data = (corpora / "elastic-examples" / name).read_bytes()
        out, asm = assemble({"preset": "java_bracket"}, data, pieces=13)
        texts = out.texts + asm.flush().texts
        assert len(texts) == events, name
        assert all(t.startswith("[2016-12-19 ") for t in texts), name
        assert "\n".join(texts) == data.decode().rstrip("\n"), "no text lost or reordered"
        traces = [t for t in texts if "\n" in t]
        assert traces, name
        assert all(t.split("\n")[1].startswith("java.io.IOException") for t in traces), name


KAFKA_CONFIG_DUMP = (
    b"[2016-12-19 20:51:18,512] INFO KafkaConfig values: \n"
    b"\tadvertised.host.name = null\n"
    b"\tbroker.id = 0\n"
    b"\n"
    b" (kafka.server.KafkaConfig)\n"
    b"[2016-12-19 20:51:18,600] INFO starting (kafka.server.KafkaServer)\n"
)


def test_java_bracket_preset_keeps_a_multi_line_message_that_is_no_stack_trace_together() -> None:
    out, asm = assemble({"preset": "java_bracket"}, KAFKA_CONFIG_DUMP)
    assert out.texts == [
        "[2016-12-19 20:51:18,512] INFO KafkaConfig values: \n\tadvertised.host.name = null\n"
        "\tbroker.id = 0\n\n (kafka.server.KafkaConfig)"
    ]
    assert out.multiline == [0]
    assert asm.flush().texts == [
        "[2016-12-19 20:51:18,600] INFO starting (kafka.server.KafkaServer)"
    ]
    split, asm = assemble({"preset": "java_stacktrace"}, KAFKA_CONFIG_DUMP)
    assert len(split.texts + asm.flush().texts) > 2, "the stack-trace preset splits this event"
