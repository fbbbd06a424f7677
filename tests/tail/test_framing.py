"""LineFramer: lines and their byte offsets from a byte stream fed in arbitrary pieces."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from logship.core.lines import Lines
from logship.tail.framing import LineFramer


def feed_all(framer: LineFramer, pieces: list[bytes]) -> Lines:
    out = Lines()
    for piece in pieces:
        got = framer.feed(piece)
        base = len(out.texts)
        out.texts += got.texts
        out.starts += got.starts
        out.truncated += [base + i for i in got.truncated]
        if got.texts:
            out.end = got.end
    return out


def test_complete_lines_get_their_start_offsets_and_the_end_of_the_last() -> None:
    lines = LineFramer(100, 1024).feed(b"one\ntwo\nthree\n")
    assert lines.texts == ["one", "two", "three"]
    assert lines.starts == [100, 104, 108]
    assert lines.end == 114


def test_a_partial_last_line_waits_for_its_newline() -> None:
    framer = LineFramer(0, 1024)
    first = framer.feed(b"a\nbb")
    assert first.texts == ["a"]
    assert first.end == 2
    assert framer.pending == 2
    second = framer.feed(b"b\n")
    assert second.texts == ["bbb"]
    assert second.starts == [2]
    assert second.end == 6


def test_flush_emits_the_partial_line_as_a_line() -> None:
    framer = LineFramer(0, 1024)
    framer.feed(b"x\nno newline")
    flushed = framer.flush()
    assert flushed.texts == ["no newline"]
    assert flushed.starts == [2]
    assert flushed.end == 12
    assert framer.pending == 0
    assert framer.flush().texts == []


def test_crlf_line_endings_are_stripped_but_counted_in_offsets() -> None:
    lines = LineFramer(0, 1024).feed(b"a\r\nbc\r\n")
    assert lines.texts == ["a", "bc"]
    assert lines.starts == [0, 3]
    assert lines.end == 7


def test_invalid_utf8_is_replaced_and_offsets_stay_byte_exact() -> None:
    lines = LineFramer(0, 1024).feed(b"caf\xc3\xa9\n\xff\xfe bad\nok\n")
    assert lines.texts == ["caf\u00e9", "\ufffd\ufffd bad", "ok"]
    assert lines.starts == [0, 6, 13]
    assert lines.end == 16


def test_long_complete_lines_are_truncated_and_marked() -> None:
    lines = LineFramer(0, 8).feed(b"short\n" + b"y" * 20 + b"\nafter\n")
    assert lines.texts == ["short", "y" * 8, "after"]
    assert lines.truncated == [1]
    assert lines.starts == [0, 6, 27]


def test_an_overlong_partial_line_is_not_buffered_beyond_the_limit() -> None:
    framer = LineFramer(0, 16)
    assert framer.feed(b"z" * 10).texts == []
    assert framer.feed(b"z" * 100_000).texts == []
    assert framer.pending == 100_010  # consumed, but only 16 bytes kept in memory
    assert len(framer._buf) == 16
    done = framer.feed(b"zz\nnext\n")
    assert done.texts == ["z" * 16, "next"]
    assert done.truncated == [0]
    assert done.starts == [0, 100_013]
    assert done.end == 100_018


def test_nul_bytes_are_kept() -> None:
    assert LineFramer(0, 64).feed(b"a\x00b\n").texts == ["a\x00b"]


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.sampled_from(
            [b"a", b"bc", b"\n", b"\r\n", b"\xff", b"\xc3\xa9", b"\x00", b"0123456789"]
        ),
        max_size=80,
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=10),
    limit=st.integers(min_value=4, max_value=64),
)
def test_any_split_of_the_stream_frames_the_same_lines_and_accounts_for_every_byte(
    data: bytes, cuts: list[int], limit: int
) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    whole = LineFramer(0, limit)
    expected = feed_all(whole, [data])
    framer = LineFramer(0, limit)
    got = feed_all(framer, pieces)
    assert got.texts == expected.texts
    assert got.starts == expected.starts
    assert got.truncated == expected.truncated
    # Every byte is either inside a framed line or still pending: nothing vanishes.
    complete = data.rfind(b"\n") + 1
    assert framer.line_start == complete
    assert framer.offset == len(data)
    if got.texts:
        assert got.end == complete
    starts = [*got.starts, complete]
    raw_lines = data[:complete].split(b"\n")[:-1] if complete else []
    assert [b - a for a, b in itertools.pairwise(starts)] == [len(r) + 1 for r in raw_lines]
    flushed = framer.flush()
    assert flushed.end == len(data)
    assert len(flushed.texts) == (1 if complete < len(data) else 0)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"bc", b"\n", b"\r\n", b"\r", b"\xc3\xa9", b"\x00", b"\t\x7f"]),
        max_size=80,
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=6),
    limit=st.integers(min_value=2, max_value=40),
)
def test_the_compiled_splitter_frames_what_python_frames(
    data: bytes, cuts: list[int], limit: int
) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    compiled, plain = LineFramer(7, limit), LineFramer(7, limit)
    assert compiled.split is not None  # the extension is built (tests/parsers/test_native_chunk)
    plain.split = None
    got, want = feed_all(compiled, pieces), feed_all(plain, pieces)
    assert (got.texts, got.starts, got.truncated, got.truncated_bytes, got.end) == (
        want.texts,
        want.starts,
        want.truncated,
        want.truncated_bytes,
        want.end,
    )
    assert all(type(t) is str for t in got.texts)


def test_the_compiled_splitter_on_a_corpus(corpora: Path) -> None:
    data = (corpora / "loghub" / "Proxifier" / "Proxifier_2k.log").read_bytes()
    compiled, plain = LineFramer(0, 1 << 20), LineFramer(0, 1 << 20)
    plain.split = None
    got, want = compiled.feed(data), plain.feed(data)
    complete = data[: data.rfind(b"\n") + 1]
    assert got.texts == want.texts == complete.decode().splitlines()
    assert got.starts == want.starts
