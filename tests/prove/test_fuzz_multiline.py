"""Proof: multiline assembly joins lines into events without losing, repeating or reordering any.

Random logs made of the lines stack traces are made of (`at ...`, `Caused by:`, tracebacks,
indented and blank lines), plus ordinary and over-long lines, through every preset and random
pattern / negate / match settings with small max_lines and max_bytes, fed in random pieces:
joining the events with newlines gives back exactly the framed lines; no event holds more than
max_lines lines; events start where lines start; and the events do not depend on where the
reads split the stream. And a 10 MiB line: with the default max_line_bytes it is cut and counted
without ever being held in memory; with a larger max_line_bytes in multiline mode it ships whole.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from logship.tail.framing import LineFramer
from logship.tail.stages import LineStages
from tests.prove.stage_model import pieces, run_stages
from tests.prove.stage_model import settings as input_settings

LINES = [
    b"2026-11-24 10:00:00 ERROR something failed",
    b"[2016-12-19 16:31:47,999] WARN broker down (kafka.server.KafkaServer)",
    b"java.lang.IllegalStateException: boom",
    b"\tat com.example.App.run(App.java:42)",
    b"    at com.example.Main.main(Main.java:7)",
    b"Caused by: java.io.IOException: disk",
    b"\t... 12 more",
    b"Traceback (most recent call last):",
    b'  File "app.py", line 3, in <module>',
    b"ValueError: bad",
    b"During handling of the above exception, another exception occurred:",
    b"",
    b"   ",
    b"plain line",
    b"\xff\xfe invalid",
    b"x" * 150,
]

multiline: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(
        dict,
        preset=st.sampled_from(
            ["java_stacktrace", "python_traceback", "indented_continuation", "java_bracket"]
        ),
    ),
    st.builds(
        dict,
        pattern=st.sampled_from([r"^\s", r"^\d{4}-", r"^(Caused|\tat)", r"\\$"]),
        negate=st.booleans(),
        match=st.sampled_from(["after", "before"]),
    ),
)


def stages(limit: int, ml: dict[str, Any]) -> LineStages:
    return LineStages(0, input_settings(limit, multiline=ml))


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.sampled_from(LINES), max_size=40),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    ml=multiline,
    max_lines=st.integers(2, 6),
    max_bytes=st.integers(64, 400),
    limit=st.integers(64, 128),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_events_are_the_lines_joined_in_order_whatever_the_settings_and_reads(
    lines: list[bytes],
    crlf: bool,
    final_newline: bool,
    ml: dict[str, Any],
    max_lines: int,
    max_bytes: int,
    limit: int,
    cuts: list[int],
) -> None:
    eol = b"\r\n" if crlf else b"\n"
    data = eol.join(lines) + (eol if final_newline and lines else b"")
    ml = {**ml, "max_lines": max_lines, "max_bytes": max_bytes}
    framed = run_stages(LineStages(0, input_settings(limit)), [data])
    events = run_stages(stages(limit, ml), pieces(data, cuts))
    whole = run_stages(stages(limit, ml), [data])
    assert "\n".join(events.texts) == "\n".join(framed.texts)
    assert events.texts == whole.texts
    assert events.starts == whole.starts
    assert set(events.starts) <= set(framed.starts)
    assert events.starts == sorted(events.starts)
    assert all(text.count("\n") < max_lines for text in events.texts)
    assert events.end == len(data)
    assert events.truncated_bytes == framed.truncated_bytes


TEN_MIB = 10 << 20
CHUNK = 128 << 10


def test_a_10_mib_line_is_cut_and_counted_without_being_held_in_memory() -> None:
    framer = LineFramer(0, 256 << 10)
    chunk = b"y" * CHUNK
    tracemalloc.start()
    try:
        framer.feed(b"head\n")
        cut = 0
        for _ in range(TEN_MIB // CHUNK):
            cut += framer.feed(chunk).truncated_bytes
        end = framer.feed(b"\ntail\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end.texts == ["y" * (256 << 10), "tail"]
    assert end.truncated == [0]
    assert cut + end.truncated_bytes == TEN_MIB - (256 << 10)
    # A few copies of max_line_bytes (the partial line joined with a read), not the line.
    assert peak < 4 * (256 << 10), f"{peak} bytes allocated at the peak"


def test_a_10_mib_line_in_multiline_mode_ships_whole_when_max_line_bytes_allows() -> None:
    big = b"\tat " + b"z" * TEN_MIB
    data = b"ERROR boom\n" + big + b"\n\tat next(X.java:1)\nINFO after\n"
    ml = {"preset": "java_stacktrace", "max_bytes": "32MiB"}
    got = run_stages(
        stages(16 << 20, ml), [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    )
    assert got.texts == [
        "ERROR boom\n" + big.decode() + "\n\tat next(X.java:1)",
        "INFO after",
    ]
    assert got.truncated == []
    assert got.multiline == [0]


def test_a_10_mib_line_beyond_multiline_max_bytes_starts_an_event_of_its_own() -> None:
    big = b"\tat " + b"z" * TEN_MIB
    data = b"ERROR boom\n" + big + b"\nINFO after\n"
    got = run_stages(
        stages(16 << 20, {"preset": "java_stacktrace"}),  # max_bytes: 1 MiB by default
        [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)],
    )
    assert got.texts == ["ERROR boom", big.decode(), "INFO after"]
    assert got.truncated == [0, 1]
