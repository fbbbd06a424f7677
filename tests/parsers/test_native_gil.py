"""The compiled encoder runs its loop without the GIL.

While a chunk is scanned, encoded and its alert conditions decided, other threads (the sinks,
the alert engine) run. The loop takes the GIL back only to ask Python for a value it has not
seen in this chunk (a timestamp, a level, a memo entry), so those lookups must give what the
Python loop gives, however many distinct values a chunk holds; and an encoder or selector in
use cannot be re-entered.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator

import orjson
import pytest

import parsers.native_chunk as native_chunk
from benchmarks.nginx_log import NGINX_RULE
from benchmarks.nginx_log import lines as nginx_lines
from parsers.condition import ConditionSettings
from parsers.native_select import selector_spec
from parsers.selection import Selection
from tests.parsers.test_fast_chunk import (
    FILE,
    READ_TIME,
    STAMPS,
    assert_same,
    chain_of,
    custom,
    frame,
)

pytestmark = pytest.mark.skipif(
    not native_chunk.ENABLED, reason="the extension is not built or LOGSHIP_PURE_PYTHON is set"
)

NGINX = {k: v for k, v in NGINX_RULE.items() if k != "name"}


def nginx_encoder() -> native_chunk.NativeChunkEncoder:
    chain = chain_of([custom(**NGINX)], STAMPS["agent metadata"])
    assert isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    return chain.fast


@pytest.fixture
def slow_switching() -> Iterator[None]:
    """No forced GIL hand-over during the test: another thread runs only when one is released."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("selecting", [False, True])
def test_other_threads_run_while_a_chunk_is_encoded(slow_switching: None, selecting: bool) -> None:
    fast = nginx_encoder()
    chunk = frame("".join(nginx_lines(20_000)).encode())
    extra: tuple[object, ...] = ()
    if selecting:
        condition = ConditionSettings.model_validate({"field": "status", "gte": 500})
        spec = selector_spec(Selection([condition], keys=[["url"]]), fast.slots)
        assert spec is not None
        extra = (native_chunk._fastscan.Selector(*spec), READ_TIME)
    encoding = [False]
    seen: list[bool] = []
    go = threading.Event()

    def watcher() -> None:
        go.wait()
        seen.append(encoding[0])

    thread = threading.Thread(target=watcher)
    thread.start()
    encoding[0] = True
    go.set()  # the watcher can run only once this thread lets go of the GIL
    result = fast.native.encode(
        chunk.texts, chunk.starts, orjson.dumps(READ_TIME), orjson.dumps(FILE), *extra
    )
    encoding[0] = False
    thread.join(timeout=60)
    assert seen == [True]
    assert result[0].count(b"\n") == 20_000
    if selecting:
        assert sum(count[3] for count in result[2].items()) == sum(
            1 for line in chunk.texts if line.split('" ', 1)[1].startswith("5")
        )


def test_a_chunk_of_many_timestamps_and_levels_encodes_as_the_python_loop_does() -> None:
    # More distinct timestamps and levels than the loop keeps per chunk, shuffled: every value
    # it looked up earlier in the chunk and forgot must be asked for again, never confused.
    rule = {
        "regex": r"^(?P<time>\S+) (?P<level>\S+) (?P<n>\d+) (?P<text>.*)$",
        "types": {"n": "int"},
        "timestamp": {"field": "time", "format": "%Y-%m-%dT%H:%M:%S%z"},
    }
    chain = chain_of([custom(**rule)], STAMPS["agent metadata"])
    assert isinstance(chain.fast, native_chunk.NativeChunkEncoder)
    rng = random.Random(7)
    levels = ["INFO", "info", "WARN", "warning", "E", "ERROR", "Fatal", "dbg", "TRACE", "notice"]
    lines = [
        f"2026-01-02T03:{rng.randrange(60):02d}:{rng.randrange(60):02d}+0000 "
        f"{rng.choice(levels)}{rng.randrange(4) or ''} {i} text {i}"
        for i in range(6_000)
    ]
    out = assert_same(chain, frame(("\n".join(lines) + "\n").encode())).splitlines()
    assert [orjson.loads(record)["message"] for record in out] == lines


def test_an_encoder_in_use_is_not_entered_again() -> None:
    fast = nginx_encoder()
    chunk = frame("".join(nginx_lines(10)).encode())
    time, file = orjson.dumps(READ_TIME), orjson.dumps(FILE)
    url = fast.slots["url"][1]

    def learn(value: bytes) -> int:  # asked from inside the encode below
        fast.native.encode(chunk.texts, chunk.starts, time, file)
        return 0

    selector = native_chunk._fastscan.Selector(((url, 0, 1, 0, (), learn),), int, ((),), 0)
    with pytest.raises(RuntimeError, match="in use"):
        fast.native.encode(chunk.texts, chunk.starts, time, file, selector, READ_TIME)
    # and afterwards both work again
    assert fast.native.encode(chunk.texts, chunk.starts, time, file)[0].count(b"\n") == 10
