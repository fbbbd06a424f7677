"""Proof: container log decoding (CRI, docker json-file, auto) takes any line and loses nothing.

Random entries in the runtimes' formats, split into partial lines at random byte positions
(inside a UTF-8 character too, as containerd and CRI-O split at a buffer size), with
lines in no container format among them, fed in random pieces: one event per entry, in order,
with the entry's full text (cut at max_line_bytes and flagged when longer), starting where its
first part starts.
"""

from __future__ import annotations

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from tests.prove.stage_model import ContainerEntry, check_container

TEXT_ATOMS = [
    b"a",
    b"hello",
    b" ",
    b"\r",
    b"\x00",
    b"\t",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"{",
    b'"',
    b"\\",
]
text = st.lists(st.sampled_from(TEXT_ATOMS), min_size=1, max_size=50).map(b"".join)


@st.composite
def split(draw: st.DrawFn, data: bytes) -> tuple[bytes, ...]:
    points = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=3))))
    points = [p for p in points if 0 < p < len(data)]
    return tuple(data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True))


@st.composite
def entry(draw: st.DrawFn, kinds: tuple[str, ...]) -> ContainerEntry:
    kind = draw(st.sampled_from(kinds))
    message = draw(text)
    if kind == "raw":
        return ContainerEntry("raw", (message,))
    if kind == "docker":
        # docker json-file splits text that is valid UTF-8 (Go replaces invalid bytes), into
        # lines shorter than any sane max_line_bytes (16 KiB of text).
        message = message.decode("utf-8", "replace").encode()
        parts = draw(split(message))
        parts = tuple(p.decode("utf-8", "replace").encode() for p in parts)
        made = ContainerEntry(kind, parts, draw(st.sampled_from(["stdout", "stderr"])))
        event("docker entry")
        assume(max(len(line) for line in made.encode().splitlines()) <= 128)
        return made
    parts = draw(split(message))
    return ContainerEntry(kind, parts, draw(st.sampled_from(["stdout", "stderr"])))


cuts = st.lists(st.integers(min_value=0, max_value=5000), max_size=8)
limits = st.integers(min_value=128, max_value=200)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(entry(("cri", "raw")), max_size=12), cuts=cuts, limit=limits)
def test_cri_lines_and_others_become_one_intact_event_each(
    entries: list[ContainerEntry], cuts: list[int], limit: int
) -> None:
    check_container(entries, "cri", cuts, limit)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(entry(("docker", "raw")), max_size=12), cuts=cuts, limit=limits)
def test_docker_lines_and_others_become_one_intact_event_each(
    entries: list[ContainerEntry], cuts: list[int], limit: int
) -> None:
    check_container(entries, "docker", cuts, limit)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(entry(("cri", "docker", "raw")), max_size=12), cuts=cuts, limit=limits)
def test_auto_tells_every_line_apart_and_loses_nothing(
    entries: list[ContainerEntry], cuts: list[int], limit: int
) -> None:
    check_container(entries, "auto", cuts, limit)


def test_a_character_split_across_two_cri_parts_arrives_whole() -> None:
    euro = "€".encode()  # 3 bytes; containerd may cut a long line between any two
    entry = ContainerEntry("cri", (b"price " + euro[:1], euro[1:] + b" 5"))
    check_container([entry], "cri", [], 256)
