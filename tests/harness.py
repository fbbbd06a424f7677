"""Test harness: run the agent as a real process, write configs, wait on conditions (never sleep-and-hope)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

REPO = Path(__file__).resolve().parent.parent


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, message: str = ""
) -> Any:
    """Polls `predicate` until it returns a truthy value (returned) or fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {message or predicate}")
        time.sleep(interval)


def config_doc(
    tmp_path: Path,
    *,
    agent: dict[str, Any] | None = None,
    input: dict[str, Any] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    sink: dict[str, Any] | None = None,
    sinks: list[dict[str, Any]] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """The one config builder of the tests: one input `app` tailing `tmp_path/logs/*.log`, one
    file sink `out` writing `tmp_path/out/logs.ndjson`, state in `tmp_path/data`.

    `agent`, `input` and `sink` are merged over those defaults (a key set to a value replaces
    it); `inputs` / `sinks` replace the lists whole; any other section (`parsers`, `alerts`,
    `metrics`) is added as given.
    """
    logs = tmp_path / "logs"
    doc: dict[str, Any] = {
        "agent": {
            "data_dir": str(tmp_path / "data"),
            "checkpoint_interval": "200ms",
            **(agent or {}),
        },
        "inputs": inputs
        if inputs is not None
        else [
            {
                "name": "app",
                "paths": [str(logs / "*.log")],
                "poll_interval": "50ms",
                **(input or {}),
            }
        ],
    }
    doc.update(sections)
    doc["sinks"] = (
        sinks
        if sinks is not None
        else [
            {
                "name": "out",
                "type": "file",
                "path": str(tmp_path / "out" / "logs.ndjson"),
                "batch": {"linger_ms": 20},
                **(sink or {}),
            }
        ]
    )
    return doc


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    """Writes a config dict as YAML; returns the path."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of a file (a torn last line, mid-write, is ignored)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n")
    if end < 0:
        return []
    return [orjson.loads(line) for line in data[:end].split(b"\n") if line]


def count_lines(path: Path) -> int:
    """Number of complete lines in a file (0 if it does not exist)."""
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


class AgentProcess:
    """`logship run -c CONFIG` in a subprocess; stderr (JSON self-logs) captured to a file."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.stderr_path = config.with_suffix(".stderr.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        """Starts the agent (appending to the same stderr file across restarts)."""
        stderr = self.stderr_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logship", "run", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=self.env,
            cwd=REPO,
        )
        stderr.close()
        return self

    @property
    def pid(self) -> int:
        """Process id of the running agent."""
        assert self.proc is not None
        return self.proc.pid

    def logs(self) -> list[dict[str, Any]]:
        """The agent's JSON self-log lines so far (non-JSON lines are kept as {'raw': ...})."""
        if not self.stderr_path.exists():
            return []
        out = []
        for line in self.stderr_path.read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                out.append({"raw": line.decode("utf-8", "replace")})
        return out

    def stderr_text(self) -> str:
        """Everything the agent wrote to stderr."""
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def wait_for_log(self, message: str, timeout: float = 30.0) -> dict[str, Any]:
        """Waits until a self-log line with this message appears; returns it."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.logs() if e.get("message") == message), None)

        result: dict[str, Any] = wait_until(found, timeout, message=f"log line {message!r}")
        return result

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def wait(self, timeout: float = 30.0) -> int:
        """Waits for the process to exit by itself; returns its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.proc is not None and self.proc.poll() is None


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Runs `logship ARGS...` to completion; returns the completed process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "logship", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
