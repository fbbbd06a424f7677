"""Forked workers start as a freshly executed `logship run` would, and the run path imports
nothing a default config does not use (start-up CPU is paid by every agent process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.harness import REPO, config_doc, write_config

# Runs in a process of its own: fork_worker refuses to fork while threads run, and pytest's
# process is not ours to fork.
_FORK_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from logship.app.fork import can_fork, fork_worker

    signal.signal(signal.SIGTERM, lambda *_: None)  # the supervisor's handlers ...
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # ... and its mask at a spawn
    report_r, report_w = os.pipe()
    own_r, own_w = os.pipe()  # stands for the supervisor's lock and listening socket

    def describe():
        try:
            os.fstat(own_r)
            closed = False
        except OSError:
            closed = True
        out = {
            "own_session": os.getsid(0) == os.getpid(),
            "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
            "sigint_default": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
            "sighup_blocked": signal.SIGHUP in signal.pthread_sigmask(signal.SIG_BLOCK, []),
            "sigterm_blocked": signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []),
            "env": os.environ.get("LOGSHIP_TEST_ENV"),
            "supervisor_fd_closed": closed,
        }
        os.write(report_w, json.dumps(out).encode() + b"\\n")
        return 3

    def interrupted():
        raise KeyboardInterrupt

    def exits():
        sys.exit(2)

    def fails():
        raise RuntimeError("boom")

    entries = [describe, interrupted, exits, fails]
    assert can_fork()
    children = [
        fork_worker(e, {"LOGSHIP_TEST_ENV": "yes"}, report_w, [own_r, own_w, report_r])
        for e in entries
    ]
    codes = [c.wait(30) for c in children]
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    os.close(report_w)
    print(json.dumps({
        "codes": codes,
        "child": json.loads(os.read(report_r, 4096).decode().splitlines()[0]),
        "parent_mask_restored": signal.SIGTERM not in mask and signal.SIGINT not in mask,
        "parent_fd_open": os.fstat(own_r) is not None,
    }))
    """
)


def test_a_forked_worker_starts_like_a_new_process_and_exits_with_its_code() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT],
        cwd=REPO,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    # The code `entry` returns; an uncaught KeyboardInterrupt dies by SIGINT (as the
    # interpreter does); sys.exit's code; 1 and a traceback for an exception.
    assert result["codes"] == [3, -signal.SIGINT, 2, 1]
    assert b"RuntimeError: boom" in done.stderr
    assert result["child"] == {
        "own_session": True,  # a terminal's Ctrl-C does not reach it
        "sigterm_default": True,  # not the supervisor's handlers
        "sigint_default": True,
        "sighup_blocked": True,  # until the agent's handler is in place
        "sigterm_blocked": False,
        "env": "yes",
        "supervisor_fd_closed": True,
    }
    assert result["parent_mask_restored"]
    assert result["parent_fd_open"]


_IMPORTS_SCRIPT = textwrap.dedent(
    """
    import sys
    from logship.app.agent import Agent
    from logship.app.cli import main
    from logship.app.config_file import load_config
    from logship.app.pipeline import Pipeline
    from logship.app.supervisor import Supervisor

    Pipeline(load_config(sys.argv[1]))
    heavy = [
        "urllib3",  # alert delivery and the http sink
        "regex",  # only for patterns `re` refuses
        "confluent_kafka",
        "sinks.kafka.sink",
        "sinks.elasticsearch.sink",
        "sinks.http.sink",
        "logship.observe.alerts.runtime",
        "logship.kube.client",
    ]
    print(" ".join(m for m in heavy if m in sys.modules))
    """
)


def test_the_run_path_of_a_default_config_imports_no_unused_client(tmp_path: Path) -> None:
    """Each of these cost every agent process (and every worker) start-up CPU it never used."""
    (tmp_path / "logs").mkdir()
    path = write_config(tmp_path / "agent.yaml", config_doc(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_SCRIPT, str(path)],
        cwd=REPO,
        capture_output=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == []
