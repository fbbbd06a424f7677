"""Federation: the supervisor's HTTP routes, answering for all worker processes at once.

Each worker serves its own endpoint on a loopback port (written to the data folder); the
supervisor asks them all and combines the answers:

- `/metrics`: every worker's samples, each with a `worker` label added (sum them with
  `sum without (worker) (...)`), plus `logship_workers` and `logship_worker_restarts_total`;
- `/healthz`, `/readyz`: 200 only when every worker answers 200 (a worker waiting to be
  restarted after a crash answers nothing: 503); each worker's check carries its `restarts`
  and `last_exit_code`, so a crash loop is visible there;
- `/status`: `{"workers": [{"worker": i, "pid": ..., "status": <that worker's /status>}]}`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from logship.app.fork import WorkerHandle
from logship.app.http_endpoint import Answer, Routes
from logship.state.shard import worker_port_file


class WorkerView(Protocol):
    """What the routes read of one worker process (`supervisor.WorkerProcess`)."""

    @property
    def index(self) -> int: ...
    @property
    def proc(self) -> WorkerHandle | None: ...
    @property
    def restarts(self) -> int: ...
    @property
    def exit_codes(self) -> Sequence[int]: ...
    @property
    def alive(self) -> bool: ...


class Supervisor(Protocol):
    """What the routes read of the supervisor (`logship.app.supervisor.Supervisor`); a protocol
    so the supervisor, which serves these routes, is not imported back."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def count(self) -> int: ...
    @property
    def workers(self) -> Sequence[WorkerView]: ...


_TIMEOUT = 3.0
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def _ask(supervisor: Supervisor, index: int, path: str) -> tuple[int, bytes]:
    """(status, body) of a worker's route; (0, reason) when it cannot be asked."""
    port_file = worker_port_file(supervisor.data_dir, index)
    try:
        port = int(port_file.read_text())
    except (OSError, ValueError):
        return 0, b"worker endpoint not known yet"
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (OSError, ValueError) as exc:
        return 0, str(exc).encode()


def merge_metrics(texts: list[tuple[int, bytes]]) -> bytes:
    """Prometheus text from several workers as one exposition, each sample labelled `worker`."""
    families: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    for worker, text in texts:
        current = ""
        for line in text.decode("utf-8", "replace").splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                current = line.split(" ", 3)[2]
                head = headers.setdefault(current, [])
                if len(head) < 2 and line not in head:
                    head.append(line)
                families.setdefault(current, [])
                continue
            if not line or line.startswith("#"):
                continue
            families.setdefault(current, []).append(_with_worker(line, worker))
    out: list[str] = []
    for name, samples in families.items():
        out += headers.get(name, [])
        out += samples
    return ("\n".join(out) + "\n").encode()


def _with_worker(sample: str, worker: int) -> str:
    brace = sample.find("{")
    space = sample.find(" ")
    label = f'worker="{worker}"'
    if 0 <= brace < space or (brace >= 0 and space < 0):
        rest = sample[brace + 1 :]
        separator = "" if rest.startswith("}") else ","
        return f"{sample[: brace + 1]}{label}{separator}{rest}"
    return f"{sample[:space]}{{{label}}}{sample[space:]}"


def federation_routes(supervisor: Supervisor) -> Routes:
    """The routes the supervisor serves on the configured address."""

    def metrics(accept: str) -> Answer:
        texts = []
        for worker in supervisor.workers:
            status, body = _ask(supervisor, worker.index, "/metrics")
            if status == 200:
                texts.append((worker.index, body))
        own = [
            "# HELP logship_workers Worker processes configured (agent.workers).",
            "# TYPE logship_workers gauge",
            f"logship_workers {supervisor.count}",
            "# HELP logship_worker_restarts_total Worker processes restarted after an unexpected exit.",
            "# TYPE logship_worker_restarts_total counter",
            *(
                f'logship_worker_restarts_total{{worker="{w.index}"}} {w.restarts}'
                for w in supervisor.workers
            ),
        ]
        return 200, TEXT_FORMAT, merge_metrics(texts) + ("\n".join(own) + "\n").encode()

    def verdict(path: str, good: str, bad: str) -> Answer:
        checks: list[dict[str, Any]] = []
        for worker in supervisor.workers:
            status, body = (
                _ask(supervisor, worker.index, path) if worker.alive else (0, b"not running")
            )
            try:
                detail: Any = orjson.loads(body)
            except orjson.JSONDecodeError:
                detail = body.decode("utf-8", "replace")
            checks.append(
                {
                    "worker": worker.index,
                    "ok": status == 200,
                    # a crash loop shows here: restarts growing, the last exit code
                    "restarts": worker.restarts,
                    "last_exit_code": worker.exit_codes[-1] if worker.exit_codes else None,
                    "detail": detail,
                }
            )
        ok = all(c["ok"] for c in checks)
        doc = {"status": good if ok else bad, "workers": checks}
        return (200 if ok else 503), "application/json", orjson.dumps(doc) + b"\n"

    def status(accept: str) -> Answer:
        workers = []
        for worker in supervisor.workers:
            code, body = _ask(supervisor, worker.index, "/status") if worker.alive else (0, b"null")
            try:
                detail = orjson.loads(body) if code == 200 else None
            except orjson.JSONDecodeError:
                detail = None
            pid = worker.proc.pid if worker.proc is not None else None
            workers.append(
                {"worker": worker.index, "pid": pid, "restarts": worker.restarts, "status": detail}
            )
        doc = {"workers": workers}
        return 200, "application/json", orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"

    return {
        "/metrics": metrics,
        "/healthz": lambda accept: verdict("/healthz", "ok", "unhealthy"),
        "/readyz": lambda accept: verdict("/readyz", "ready", "not ready"),
        "/status": status,
    }
