"""Proof: framing takes any bytes, in any pieces, and accounts for every one of them.

Random bytes with the hard cases over-represented (\\n, \\r, \\r\\n, NUL, invalid and truncated
UTF-8, multi-byte characters, runs longer than max_line_bytes, no final newline), fed in random
pieces: the lines are the model's (`tests/prove/stage_model.py`), independent of where the
reads split the stream, and bytes read = bytes shipped + bytes cut off (counted) + terminators.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.prove.stage_model import check_framing

ATOMS = [
    b"a",
    b"xyz",
    b"\n",
    b"\r",
    b"\r\n",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"\xf0\x9f\x98\x80",
    b" ",
    b"0123456789" * 8,
]

stream = st.lists(st.one_of(st.sampled_from(ATOMS), st.binary(max_size=40)), max_size=120).map(
    b"".join
)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
limits = st.integers(min_value=64, max_value=200)


@settings(max_examples=400, deadline=None)
@given(data=stream, cuts=cuts, limit=limits)
def test_any_bytes_in_any_pieces_frame_like_the_model_and_every_byte_is_accounted_for(
    data: bytes, cuts: list[int], limit: int
) -> None:
    check_framing(data, cuts, limit)


def test_a_crlf_line_exactly_max_line_bytes_long_is_not_truncated() -> None:
    check_framing(b"a" * 64 + b"\r\n" + b"b\n", [], 64)
    check_framing(b"a" * 64 + b"\r\n" + b"b\n", [65], 64)


def test_a_carriage_return_inside_a_long_line_is_content_whatever_the_split() -> None:
    data = b"abc\r" + b"d" * 100 + b"\nnext\r\n"
    for cut in (0, 50, 70, 104, 105):
        check_framing(data, [cut], 64)
    check_framing(b"x" * 63 + b"\r" + b"y" * 10 + b"\n", [70], 64)
