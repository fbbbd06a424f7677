"""An agent's processes (the supervisor and its workers): find them, kill them, measure them."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid`."""
    found = []
    for task in Path("/proc").iterdir():
        if task.name.isdigit():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(task.name))
    return found


def tree(pid: int) -> list[int]:
    """`pid` and every descendant, parents first."""
    out = [pid]
    for child in children(pid):
        out += tree(child)
    return out


def kill_tree(pid: int) -> list[int]:
    """SIGKILLs `pid` and its descendants, children first (a node crash: nobody drains)."""
    pids = tree(pid)
    for p in reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    return pids


def rss_bytes(pid: int) -> int:
    """Resident memory of one process now (0 if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


def open_fds(pid: int) -> int:
    """Open file descriptors of one process now (0 if it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0
