"""A mock Kafka broker process that can also be made slow: every request answered after a delay.

`tests.doubles.kafka_mock` runs librdkafka's mock cluster and takes JSON commands on stdin; this module
adds one command, `{"cmd": "rtt", "broker": 1, "ms": 2000}` (rd_kafka_mock_broker_set_rtt),
for the slow-sink proof. Run as `python -m tests.prove.slow_kafka`; `SlowMockKafka` starts it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from typing import Any

from tests.doubles.kafka_mock import REPO, MockKafka, _handle, _MockCluster


class _SlowCluster(_MockCluster):
    def __init__(self, brokers: int) -> None:
        super().__init__(brokers)
        self._lib.rd_kafka_mock_broker_set_rtt.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int32,
            ctypes.c_int,
        ]

    def rtt(self, broker: int, ms: int) -> int:
        err: int = self._lib.rd_kafka_mock_broker_set_rtt(self._mcluster, broker, ms)
        return err


def _serve() -> None:
    cluster = _SlowCluster(1)
    print(json.dumps({"bootstrap_servers": cluster.bootstrap_servers, "pid": os.getpid()}))
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command: dict[str, Any] = json.loads(line)
            if command.get("cmd") == "rtt":
                err = cluster.rtt(int(command.get("broker", 1)), int(command["ms"]))
                reply: dict[str, Any] = {"ok": err == 0, "error": err}
            else:
                reply = _handle(cluster, command)
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"ok": False, "error": f"bad command: {exc}"}
        print(json.dumps(reply))
        sys.stdout.flush()
    os._exit(0)


class SlowMockKafka(MockKafka):
    """MockKafka whose broker can be slowed down: `slow(ms)`, `slow(0)` to make it fast again."""

    def start(self) -> SlowMockKafka:
        """Starts the broker process and waits for its address."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.prove.slow_kafka"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            start_new_session=True,
        )
        self.bootstrap_servers = self._read_line()["bootstrap_servers"]
        return self

    def slow(self, ms: int, broker: int = 1) -> None:
        """Every request to the broker takes `ms` milliseconds more (0: back to normal)."""
        self.command(cmd="rtt", broker=broker, ms=ms)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(0))
    _serve()
