"""SpoolStore: framed, fsynced segments; damage cut off and counted at open; bounded; ordered."""

from __future__ import annotations

from pathlib import Path

import pytest

from logship.deliver.spool.frame import HEADER, MAGIC, encode_frame, scan
from logship.deliver.spool.inspect import summarize
from logship.deliver.spool.store import STATE_RESERVE, SpoolStore

MIB = 1 << 20


def chunk(start: int, n: int, pad: int = 20) -> bytes:
    return b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * pad) for i in range(start, start + n))


def numbers(payload: bytes) -> list[int]:
    return [int(line.split(b'"n":')[1].split(b",")[0]) for line in payload.splitlines()]


def drain(store: SpoolStore) -> list[int]:
    """Reads and delivers everything, in order."""
    out: list[int] = []
    while True:
        read, lost, problems = store.read(100, 1 << 20)
        assert lost == 0
        assert not problems
        if read is None:
            return out
        for frame in read.frames:
            out += numbers(frame.payload)
        store.delivered(read)


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def test_records_come_back_in_the_order_they_were_spooled_across_segments(tmp_path: Path) -> None:
    store = SpoolStore(tmp_path / "s", 4 * MIB)
    store.open()
    payloads = [chunk(i * 1000, 1000) for i in range(12)]  # ~36 KiB each: several segments
    for p in payloads:
        store.append(p, 1000)
    assert len(list((tmp_path / "s").glob("*.seg"))) > 1
    assert store.records == 12_000
    assert drain(store) == list(range(12_000))
    assert store.empty
    assert list((tmp_path / "s").glob("*.seg")) == [], "segments are deleted once delivered"


def test_a_segment_truncated_mid_record_is_cut_at_open_and_what_came_before_is_kept(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "s"
    store = SpoolStore(folder, 4 * MIB)
    store.open()
    for i in range(3):
        store.append(chunk(i * 10, 10), 10)
    store.close()
    seg = next(folder.glob("*.seg"))
    size = seg.stat().st_size
    with seg.open("r+b") as f:
        f.truncate(size - 7)  # a torn last frame, as kill -9 mid-write leaves it
    reopened = SpoolStore(folder, 4 * MIB)
    recovery = reopened.open()
    assert recovery.problems
    assert "torn" in recovery.problems[0]
    kept = len(MAGIC) + 2 * HEADER.size + len(chunk(0, 10)) + len(chunk(10, 10))
    assert recovery.cut_bytes == size - 7 - kept
    assert drain(reopened) == list(range(20))


def test_flipped_bytes_fail_the_checksum_and_the_rest_of_that_segment_is_cut(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "s"
    store = SpoolStore(folder, 4 * MIB)
    store.open()
    for i in range(4):
        store.append(chunk(i * 10, 10), 10)
    store.close()
    seg = next(folder.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    kept = len(MAGIC) + 2 * HEADER.size + len(chunk(0, 10)) + len(chunk(10, 10))
    data[kept + HEADER.size + 5] ^= 0xFF  # inside the third frame's payload
    seg.write_bytes(bytes(data))
    assert summarize(folder, verify=True).problems, "--verify sees the flipped byte"
    assert not summarize(folder).problems, "without --verify only headers are walked"
    reopened = SpoolStore(folder, 4 * MIB)
    recovery = reopened.open()
    assert recovery.problems
    assert "checksum" in recovery.problems[0]
    assert recovery.cut_bytes == len(data) - kept
    assert drain(reopened) == list(range(20))


def test_a_segment_with_a_bad_header_is_removed_and_the_spool_still_opens(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / f"{1:020d}.seg").write_bytes(b"garbage that is not a segment")
    (folder / f"{2:020d}.seg").write_bytes(MAGIC + encode_frame(chunk(0, 3), 3, 1.0))
    store = SpoolStore(folder, 4 * MIB)
    recovery = store.open()
    assert "bad magic" in recovery.problems[0]
    assert drain(store) == [0, 1, 2]


def test_the_folder_never_exceeds_max_bytes_including_its_state_file(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    store = SpoolStore(folder, 1 * MIB)
    store.open()
    store.failed("connection refused " * 30)
    payload = chunk(0, 300)
    written = 0
    while store.room_for(len(payload)):
        store.append(payload, 300)
        written += 1
        assert disk_bytes(folder) <= 1 * MIB
        assert store.nbytes - STATE_RESERVE == sum(p.stat().st_size for p in folder.glob("*.seg"))
    assert written > 10
    assert disk_bytes(folder) + len(payload) + HEADER.size > 1 * MIB - STATE_RESERVE


def test_drop_oldest_drops_whole_oldest_segments_and_says_how_many_records(tmp_path: Path) -> None:
    store = SpoolStore(tmp_path / "s", 1 * MIB)
    store.open()
    for i in range(20):
        store.append(chunk(i * 1000, 1000), 1000)
    first = sorted((tmp_path / "s").glob("*.seg"))[0]
    before = store.records
    dropped = store.drop_oldest()
    assert dropped > 0
    assert store.records == before - dropped
    assert not first.exists()
    rest = drain(store)
    assert rest == list(range(dropped, 20_000))


def test_delivered_frames_are_not_read_again_after_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    store = SpoolStore(folder, 4 * MIB)
    store.open()
    for i in range(5):
        store.append(chunk(i * 10, 10), 10)
    read, _, _ = store.read(20, 1 << 20)
    assert read is not None
    store.delivered(read)  # the first two frames (20 records)
    store.close()
    again = SpoolStore(folder, 4 * MIB)
    again.open()
    assert again.records == 30
    assert drain(again) == list(range(20, 50))


def test_a_frame_put_in_front_is_read_first(tmp_path: Path) -> None:
    store = SpoolStore(tmp_path / "s", 4 * MIB)
    store.open()
    store.append(chunk(10, 5), 5)
    store.prepend(chunk(0, 10), 10)
    store.append(chunk(15, 5), 5)
    assert drain(store) == list(range(20))


@pytest.mark.parametrize("cut", [1, 4, len(MAGIC) + 3, len(MAGIC) + HEADER.size + 2])
def test_scan_reports_any_torn_prefix_as_a_problem_never_as_frames(cut: int) -> None:
    data = MAGIC + encode_frame(chunk(0, 2), 2, 1.0)
    found = scan(data[:cut])
    assert found.frames == []
    assert found.problem
