"""Supervisor: `workers: N` runs N worker processes, each owning a shard of the files.

Python runs one core per process; a node with several busy files has more. The supervisor:

1. runs the start-up checks `logship check` runs (`logship.app.preflight`), claims the data folder
   and rewrites the registry for N workers (`logship.state.shard`), so changing N between runs neither
   loses nor repeats a line;
2. starts N workers (`logship run` with `LOGSHIP_WORKER=i/N`): each a whole agent for the files
   whose identity hashes to it, with its own registry file, dead letters and loopback HTTP
   port; a worker whose supervisor dies gets SIGTERM (Linux parent-death signal), and one
   whose supervisor died before it could ask for that signal exits at start
   (`LOGSHIP_SUPERVISOR_PID`). The first workers are forked from the supervisor before it
   starts any thread (`logship.app.fork`: no second interpreter start-up, ~0.4 s of CPU each);
   a worker started while a thread runs (a restart, with the HTTP endpoint on) is a new
   `python -m logship run` process;
3. tells a worker that fails to *start* from one that *crashes* (`logship.app.readiness`: each
   worker reports `ready`, or why it could not start). A start-up failure (configuration,
   permissions, a port) stops the whole agent: the other workers drain, and the supervisor
   exits with the worker's code (1, or 2 for an invalid config), as a single-process agent
   would. That holds for a restarted worker too (a disk that became read-only): retrying in a
   loop would not fix it, and the service manager must see it. Only a crash (an exit after
   `ready`, or a death by signal) is restarted, with backoff (1 s doubling to 30 s);
4. serves the configured HTTP address for all of them (`logship.app.federation`);
5. forwards SIGHUP (each worker reloads its inputs and rules; a worker starts with SIGHUP
   blocked, so one sent while it starts waits for its handler instead of killing it);
6. on SIGTERM/SIGINT forwards the signal and waits for the workers' graceful drain; a second
   signal is forwarded too and skips their drain; stragglers are killed after
   `shutdown_timeout` + 10 s. Workers run in a session of their own, so a terminal's Ctrl-C
   (sent to its whole foreground process group) reaches only the supervisor: one Ctrl-C is
   one signal to each worker, as with a single-process agent.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from logship.app.config import Config
from logship.app.exactly_once import forces_one_worker
from logship.app.federation import federation_routes
from logship.app.fork import WorkerHandle, can_fork, fork_worker
from logship.app.http_endpoint import HttpEndpoint, bind_or_disable
from logship.app.pipeline import preload
from logship.app.preflight import raise_problems
from logship.app.readiness import READY_ENV, StartWatch
from logship.state.checkpoint import CheckpointError
from logship.state.data_dir import StartupError, claim
from logship.state.shard import consolidate, worker_port_file
from logship.tail.discovery import FileFinder

log = logging.getLogger(__name__)

WORKER_ENV = "LOGSHIP_WORKER"
"""Set to `INDEX/COUNT` in a worker's environment."""
SUPERVISOR_ENV = "LOGSHIP_SUPERVISOR_PID"
"""Set to the supervisor's pid in a worker's environment (its parent, checked at start)."""
MAX_AUTO_WORKERS = 8
_RESTART_MAX_BACKOFF = 30.0
_HEALTHY_RUN = 60.0  # a worker that ran this long has its restart backoff reset
# A worker that gets the forwarded signal while still starting (before its handlers exist) dies
# of it: it had not read anything yet, so that is a clean stop too.
_CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)


def resolve_workers(config: Config) -> int:
    """The number of worker processes: `agent.workers`, or for `auto` one per available core,
    at most one per file matched now and at most MAX_AUTO_WORKERS (1 with one core or file)."""
    setting = config.agent.workers
    if setting != "auto":
        return setting
    if forces_one_worker(config.sinks):
        return 1
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        return 1
    files = sum(
        len(FileFinder(i.paths, i.exclude, i.follow_symlinks).scan()) for i in config.inputs
    )
    return max(1, min(cores, files, MAX_AUTO_WORKERS))


@dataclass
class WorkerProcess:
    """One worker: its process, and the bookkeeping for restarts."""

    index: int
    proc: WorkerHandle | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    watch: StartWatch | None = None
    """Its start-up report (ready, or why it could not start)."""

    @property
    def alive(self) -> bool:
        """True while its process runs."""
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Runs and watches the worker processes of one agent."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        count: int,
        fork_entry: Callable[[], int] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.count = count
        self.fork_entry = fork_entry
        """What a forked worker runs: the `run` command, as `python -m logship run` would (None:
        workers are always new processes)."""
        self.data_dir = Path(config.agent.data_dir)
        self.workers = [WorkerProcess(i) for i in range(count)]
        self._stop = threading.Event()
        self._signals: list[int] = []
        self._stops_forwarded = 0
        """Stop signals forwarded to the workers so far (the first stops, a later one hurries)."""
        self._lock_fd: int | None = None
        self.http: HttpEndpoint | None = None
        self.failure: int | None = None
        """Set when a worker could not start: the exit code the agent stops with."""

    def run(self) -> int:
        """Starts the workers and supervises them until stopped; the process exit code."""
        self._install_signals()
        raise_problems(self.config)
        self._lock_fd = claim(self.data_dir, ".lock")
        try:
            consolidate(self.data_dir, self.count)
        except CheckpointError as exc:
            raise StartupError(str(exc)) from None
        for stale in self.data_dir.glob(worker_port_file(self.data_dir, 0).name.replace("0", "*")):
            stale.unlink(missing_ok=True)  # ports of an earlier run's workers
        self._bind_http()
        log.info(
            "Supervisor started.", extra={"workers": self.count, "data_dir": str(self.data_dir)}
        )
        try:
            if self.fork_entry is not None:
                preload(self.config)
            # The first workers before the HTTP endpoint's thread: still one thread, they fork.
            self._tend(time.monotonic())
            if self.http is not None:
                self.http.start()
            while not self._stop.is_set():
                self._forward_signals()
                self._tend(time.monotonic())
                self._stop.wait(0.2)
            return self._shut_down()
        finally:
            if self.http is not None:
                self.http.stop()
            os.close(self._lock_fd)
            for worker in self.workers:
                if worker.watch is not None:
                    worker.watch.close()

    def _bind_http(self) -> None:
        """Opens the endpoint's socket (a taken address stops the start); serving starts later."""
        address = self.config.agent.http.host_port
        if address is None:
            return
        self.http = bind_or_disable(
            HttpEndpoint(federation_routes(self), *address), self.config.agent.http
        )

    def _own_fds(self) -> list[int]:
        """The supervisor's file descriptors a forked worker must not keep: the data folder
        lock, the listening socket, and the read ends of the start-up report pipes."""
        fds = [] if self._lock_fd is None else [self._lock_fd]
        if self.http is not None:
            fds += self.http.fds()
        return fds + [w.watch.read_fd for w in self.workers if w.watch and w.watch.read_fd >= 0]

    def _spawn(self, worker: WorkerProcess, now: float) -> None:
        if worker.watch is not None:
            worker.watch.close()
        worker.watch = watch = StartWatch()
        worker_env = {
            WORKER_ENV: f"{worker.index}/{self.count}",
            SUPERVISOR_ENV: str(os.getpid()),
            READY_ENV: str(watch.child_fd),
        }
        # The worker starts with SIGHUP blocked and unblocks it once its handler is in place: a
        # reload asked for while it starts waits for it (SIGHUP's default action would kill it).
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        entry = self.fork_entry if can_fork() else None
        try:
            # A session of its own: a terminal's Ctrl-C goes to its foreground process group,
            # and a worker in it would take the supervisor's forwarded signal as a second one
            # (skip the drain). Only the supervisor signals its workers.
            if entry is not None:
                worker.proc = fork_worker(entry, worker_env, watch.child_fd, self._own_fds())
            else:
                worker.proc = subprocess.Popen(
                    [sys.executable, "-m", "logship", "run", "-c", str(self.config_path)],
                    env={**os.environ, **worker_env},
                    pass_fds=(watch.child_fd,),
                    start_new_session=True,
                )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            watch.spawned()
        worker.started = now
        log.info(
            "Worker started.",
            extra={"worker": worker.index, "pid": worker.proc.pid, "forked": entry is not None},
        )

    def _tend(self, now: float) -> None:
        """Starts workers that are due: at start, and after a crash (with backoff); stops the
        agent when one could not start."""
        for worker in self.workers:
            if worker.watch is not None:
                worker.watch.poll()
            if worker.alive:
                if now - worker.started > _HEALTHY_RUN:
                    worker.backoff = 1.0
                continue
            if worker.proc is not None:  # it exited while we were not stopping
                code = worker.proc.returncode
                assert code is not None  # not alive: poll() has set it
                worker.exit_codes.append(code)
                worker.proc = None
                if self._failed_to_start(worker, code):
                    return
                worker.restarts += 1
                worker.next_start = now + worker.backoff
                log.error(
                    "Worker exited unexpectedly; restarting it.",
                    extra={
                        "worker": worker.index,
                        "exit_code": code,
                        "restart_in_s": worker.backoff,
                    },
                )
                worker.backoff = min(worker.backoff * 2, _RESTART_MAX_BACKOFF)
            if now >= worker.next_start:
                self._spawn(worker, now)

    def _failed_to_start(self, worker: WorkerProcess, code: int) -> bool:
        """True (and the agent asked to stop) when `worker`, which exited with `code`, never
        started: it said why, or it exited by itself before saying it was ready."""
        watch = worker.watch
        assert watch is not None
        watch.poll()  # what it wrote before exiting is still in the pipe
        if watch.failure is None and (watch.ready or code <= 0):
            return False  # a crash: it ran, or a signal killed it
        self.failure = 2 if code == 2 else 1  # 2: its config file no longer loads
        log.error(
            "A worker could not start; the agent stops.",
            extra={
                "worker": worker.index,
                "exit_code": code,
                "error": watch.failure or f"exited with code {code} before it started; see its log",
            },
        )
        self._signals.append(signal.SIGTERM)  # the other workers drain
        self._stop.set()
        return True

    def _shut_down(self) -> int:
        deadline = time.monotonic() + self.config.agent.shutdown_timeout + 10
        log.info("Supervisor stopping: workers drain.", extra={"workers": self.count})
        while any(w.alive for w in self.workers) and time.monotonic() < deadline:
            self._forward_signals()
            time.sleep(0.1)
        code = 0
        for worker in self.workers:
            if worker.alive:
                assert worker.proc is not None
                log.error(
                    "Worker did not stop in time; killing it.", extra={"worker": worker.index}
                )
                worker.proc.kill()
                worker.proc.wait(10)
                code = 1
            elif worker.proc is not None and worker.proc.returncode not in _CLEAN_EXITS:
                code = 1
        if self.failure is not None:
            code = self.failure
        log.info("Supervisor stopped.", extra={"exit_code": code})
        return code

    def _forward_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            if signum != signal.SIGHUP:
                # The first stop goes as SIGTERM, which a stopping worker takes as the same
                # stop again (it may also have it from systemd); a later one is the hurry.
                signum = signal.SIGINT if self._stops_forwarded else signal.SIGTERM
                self._stops_forwarded += 1
            for worker in self.workers:
                if worker.alive:
                    assert worker.proc is not None
                    worker.proc.send_signal(signum)

    def _install_signals(self) -> None:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._signals.append(signum)
            self._stop.set()

        def on_hangup(signum: int, frame: FrameType | None) -> None:
            self._signals.append(signum)  # forwarded: each worker reloads its own pipeline

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, on_hangup)
