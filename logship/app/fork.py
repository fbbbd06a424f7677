"""Starting a worker by forking the supervisor: no second interpreter start-up.

A worker started with `python -m logship run` imports and builds everything again: about 0.4 s
of CPU per process, a tenth of what two workers spend on a million lines. A child forked from
the supervisor, which has imported the same modules and validated the same config, starts in a
few milliseconds and then runs the very code `python -m logship run` would (`entry`).

Forking is only safe while the supervisor has a single thread: a lock held by another thread at
the fork (logging, an import, malloc) stays held forever in the child. `can_fork` says so; the
supervisor forks its first workers before its HTTP endpoint's thread starts and otherwise falls
back to a fresh process (`subprocess.Popen`), as for the restart of a crashed worker.

The child is made to look like a freshly executed worker: a session of its own, the default
signal handlers (not the supervisor's), SIGHUP still blocked until the agent's handler is in
place, no file descriptor of the supervisor's (data folder lock, listening socket, other workers'
report pipes) other than the ones it is given, and an exit status as the interpreter would give
it (the code `entry` returns, 1 for an uncaught exception, death by SIGINT for an uncaught
KeyboardInterrupt).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Mapping
from subprocess import TimeoutExpired
from typing import NoReturn, Protocol

_STOPS = {signal.SIGINT, signal.SIGTERM}


class WorkerHandle(Protocol):
    """What the supervisor does with a worker process: `subprocess.Popen` or `ForkedProcess`."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...


class ForkedProcess:
    """A forked child, with the part of `subprocess.Popen`'s interface the supervisor uses
    (return codes alike: the exit status, or minus the signal that killed it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The return code once the child exited (it is reaped then), else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its status is lost
                self.returncode = 1
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Waits for the exit; TimeoutExpired after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        """Sends `sig` unless the child was already reaped (its pid may be someone else's)."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


def can_fork() -> bool:
    """True while this process has no thread but the main one (forking is safe)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def fork_worker(
    entry: Callable[[], int], env: Mapping[str, str], keep_fd: int, close_fds: Collection[int]
) -> ForkedProcess:
    """Forks a child that runs `entry` with `env` added to its environment, then exits.

    `keep_fd` stays open in the child (its start-up report pipe); `close_fds` are closed there
    (the supervisor's own). The caller blocks SIGHUP around the call; the child keeps it blocked.
    """
    assert can_fork(), "fork with threads running"
    # Stop signals wait until the child has put the default handlers back: the supervisor's
    # handlers, run in the child, would only set the child's copy of its state.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would write the supervisor's buffered output again
    pid = os.fork()
    if pid == 0:
        _child(entry, env, keep_fd, close_fds, previous)
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return ForkedProcess(pid)


def _child(
    entry: Callable[[], int],
    env: Mapping[str, str],
    keep_fd: int,
    close_fds: Collection[int],
    mask: set[int | signal.Signals],
) -> NoReturn:
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        for fd in close_fds:
            if fd != keep_fd:
                os.close(fd)
        os.environ.update(env)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        code = entry()
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        # As the interpreter does for an uncaught KeyboardInterrupt: die by the signal.
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        # Never back into the supervisor's frames: its `finally` blocks belong to it alone.
        _flush()
        os._exit(code)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _flush() -> None:
    logging.shutdown()  # what the interpreter's exit would run (atexit)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
