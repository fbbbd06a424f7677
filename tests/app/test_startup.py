"""Start-up and stop as a service manager and a terminal see them: start-up failures stop the
agent (also with workers), `check` refuses what `run` refuses, one Ctrl-C drains."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import urllib.error
from pathlib import Path

import orjson
import pytest
import yaml

from logship.app.readiness import StartReport, StartWatch
from logship.state.shard import read_all
from tests.app.test_http_endpoint import base_config, get
from tests.app.test_workers import write_files_for_both_workers
from tests.doubles.webhook_server import WebhookServer
from tests.harness import (
    REPO,
    AgentProcess,
    config_doc,
    run_cli,
    wait_until,
    write_config,
)


def config(tmp_path: Path, workers: int, sink_path: Path, data_dir: Path | None = None) -> Path:
    doc = config_doc(
        tmp_path,
        agent={
            "data_dir": str(data_dir or tmp_path / "data"),
            "workers": workers,
            "http": {"address": None},
        },
        sink={"path": str(sink_path), "batch": {"linger_ms": 20, "max_events": 200}},
    )
    return write_config(tmp_path / f"agent-{workers}.yaml", doc)


def a_regular_file(tmp_path: Path) -> Path:
    """A file where a folder is expected: no process, root included, can create a path under it."""
    path = tmp_path / "not-a-folder"
    path.write_text("")
    return path


# --- a start-up failure stops the agent, with workers too ---------------------------------------


def test_a_sink_folder_the_agent_cannot_create_stops_two_workers_with_exit_1(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    write_files_for_both_workers(tmp_path, 2, 10)
    sink = a_regular_file(tmp_path) / "out" / "logs.ndjson"
    agent = AgentProcess(config(tmp_path, 2, sink)).start()
    agents.append(agent)
    assert agent.wait(timeout=30) == 1
    assert f"sinks[0] (out): cannot write {sink}" in agent.stderr_text()
    assert not any(
        e.get("message") == "Worker exited unexpectedly; restarting it." for e in agent.logs()
    )


def test_a_worker_that_cannot_start_stops_the_agent_instead_of_restarting_forever(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    """Only worker 0 meets the problem (its lock is held, as by an orphan of an earlier run):
    the supervisor's own checks pass, so this is the worker telling it that it did not start."""
    write_files_for_both_workers(tmp_path, 2, 10)
    data = tmp_path / "data"
    data.mkdir()
    holder = os.open(data / ".lock.worker-0", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        agent = AgentProcess(config(tmp_path, 2, tmp_path / "out" / "logs.ndjson")).start()
        agents.append(agent)
        assert agent.wait(timeout=30) == 1
    finally:
        os.close(holder)
    logs = agent.logs()
    failed = [e for e in logs if e.get("message") == "A worker could not start; the agent stops."]
    assert len(failed) == 1, agent.stderr_text()[-3000:]
    assert failed[0]["worker"] == 0
    assert "is in use by another logship process" in failed[0]["error"]
    assert not any(e.get("message") == "Worker exited unexpectedly; restarting it." for e in logs)
    stopped = [e for e in logs if e.get("message") == "Supervisor stopped."]
    assert stopped
    assert stopped[-1]["exit_code"] == 1


# --- `check` refuses what `run` refuses -----------------------------------------------------------


def test_check_refuses_a_sink_path_under_a_regular_file_with_the_message_run_prints(
    tmp_path: Path,
) -> None:
    sink = a_regular_file(tmp_path) / "out" / "logs.ndjson"
    path = config(tmp_path, 1, sink)
    checked = run_cli("check", "-c", str(path))
    assert checked.returncode == 1
    message = f"logship: cannot start: sinks[0] (out): cannot write {sink}"
    assert message in checked.stderr
    ran = run_cli("run", "-c", str(path))
    assert ran.returncode == 1
    printed = [
        line for line in ran.stderr.splitlines() if line.startswith("logship: cannot start:")
    ]
    assert printed
    assert printed[0] in checked.stderr.splitlines()


@pytest.mark.parametrize("where", ["under a regular file", "a regular file"])
def test_check_refuses_a_data_dir_the_agent_cannot_use_naming_the_key(
    tmp_path: Path, where: str
) -> None:
    blocker = a_regular_file(tmp_path)
    data_dir = blocker / "data" if where == "under a regular file" else blocker
    path = config(tmp_path, 1, tmp_path / "out" / "logs.ndjson", data_dir=data_dir)
    checked = run_cli("check", "-c", str(path))
    assert checked.returncode == 1
    assert f"logship: cannot start: agent.data_dir: cannot use {data_dir}: " in checked.stderr
    assert "not a folder" in checked.stderr


def test_check_refuses_a_taken_http_port_and_a_ca_file_that_is_not_pem(tmp_path: Path) -> None:

    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        doc = {
            "agent": {"data_dir": str(tmp_path / "data"), "http": {"address": f"127.0.0.1:{port}"}},
            "inputs": [{"name": "app", "paths": [str(tmp_path / "*.log")]}],
            "sinks": [
                {
                    "name": "es",
                    "type": "elasticsearch",
                    "hosts": ["https://127.0.0.1:1"],
                    "tls": {"ca_file": str(ca)},
                }
            ],
        }
        checked = run_cli("check", "-c", str(write_config(tmp_path / "agent.yaml", doc)))
    assert checked.returncode == 1
    assert f"agent.http.address: cannot listen on 127.0.0.1:{port}" in checked.stderr
    assert f"sinks[0] (es).tls.ca_file: cannot load {ca}" in checked.stderr
    assert "not tried here" in checked.stdout  # says what it did not check


def test_check_beside_the_running_agent_warns_about_its_port_but_passes(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    """Checking the config of a running agent (before a reload) must not fail on its own port."""
    port = free_port()
    path = config(tmp_path, 1, tmp_path / "out" / "logs.ndjson")
    doc = yaml.safe_load(path.read_text())
    doc["agent"]["http"] = {"address": f"127.0.0.1:{port}"}
    write_config(path, doc)
    (tmp_path / "logs").mkdir()
    agent = AgentProcess(path).start()
    agents.append(agent)
    wait_until(lambda: healthz_status(f"http://127.0.0.1:{port}") == 200, message="agent up")
    checked = run_cli("check", "-c", str(path))
    assert checked.returncode == 0, checked.stderr
    assert f"warning: agent.http.address: cannot listen on 127.0.0.1:{port}" in checked.stdout
    assert "is running: its own?" in checked.stdout
    assert agent.stop() == 0


def test_check_of_a_good_config_passes_and_leaves_no_file_or_folder_behind(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    before = sorted(tmp_path.rglob("*"))
    path = config(tmp_path, 1, tmp_path / "out" / "logs.ndjson")
    checked = run_cli("check", "-c", str(path))
    assert checked.returncode == 0, checked.stderr
    assert sorted(tmp_path.rglob("*")) == sorted([*before, path])


# --- one Ctrl-C drains --------------------------------------------------------------------------


class SessionAgent(AgentProcess):
    """The agent as a shell starts it in a terminal: leader of its own process group."""

    def start(self) -> SessionAgent:
        """Starts the agent in a new session (so the test can signal its whole group)."""
        stderr = self.stderr_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logship", "run", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=self.env,
            cwd=REPO,
            start_new_session=True,
        )
        stderr.close()
        return self


def lines_below(path: Path, offset: int) -> set[str]:
    """`f<i> <n>` of each line of a log file that ends at or before `offset`."""
    data = path.read_bytes()[:offset]
    return {" ".join(line.split()[:2]) for line in data.decode().splitlines()}


def test_ctrl_c_to_the_process_group_drains_two_workers_and_checkpoints_what_they_shipped(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    """A terminal sends SIGINT to the whole foreground process group: the workers must take
    the supervisor's forwarded signal as the first one (drain), not as a second (stop now).
    The sink is slow (100 ms a batch of 200), so draining the full queues takes seconds."""
    write_files_for_both_workers(tmp_path, 4, 20_000)
    hook = WebhookServer().start()
    hook.delay = 0.1
    try:
        path = config(tmp_path, 2, tmp_path / "unused.ndjson")
        doc = yaml.safe_load(path.read_text())
        doc["sinks"] = [
            {"name": "out", "type": "http", "url": hook.url, "batch": {"max_events": 200}}
        ]
        agent = SessionAgent(write_config(path, doc)).start()
        agents.append(agent)
        wait_until(
            lambda: sum(e.get("message") == "Agent started." for e in agent.logs()) == 2,
            message="both workers started",
        )
        wait_until(lambda: len(hook.delivered()) >= 10, timeout=60, message="shipping under way")
        os.killpg(agent.pid, signal.SIGINT)
        assert agent.wait(timeout=60) == 0
    finally:
        hook.stop()
    logs = agent.logs()
    stopped = [e for e in logs if e.get("message") == "Agent stopped."]
    assert sorted(e["worker"] for e in stopped) == [0, 1]
    assert all(e["drained"] is True for e in stopped), stopped
    assert not [e for e in logs if str(e.get("message", "")).startswith("Shutdown timeout")]
    # Final checkpoints: every file's checkpoint covers exactly the lines the sink received.
    shipped = [" ".join(r["message"].split()[:2]) for body in hook.bodies() for r in body]
    assert len(shipped) == len(set(shipped)), "a line shipped twice"
    checkpoints = {cp.path: cp.offset for cp in read_all(tmp_path / "data").values()}
    assert checkpoints, "final checkpoints written"
    expected: set[str] = set()
    for name, offset in checkpoints.items():
        expected |= lines_below(Path(name), offset)
    assert set(shipped) == expected


# --- how a worker's start and a crash loop are reported ------------------------------------------


def test_a_worker_start_report_reaches_the_supervisor_side_whole() -> None:
    watch = StartWatch()
    report = StartReport(os.dup(watch.child_fd))  # the worker's copy of the write end
    watch.spawned()
    watch.poll()
    assert (watch.ready, watch.failure) == (False, None)
    report.failed("agent.data_dir: cannot use /x:\nnot a folder")
    report.ready()  # only the first report counts: the channel is closed after it
    watch.poll()
    assert watch.failure == "agent.data_dir: cannot use /x: not a folder"
    assert watch.ready is False
    watch.close()


@pytest.mark.parametrize(
    ("said", "code", "agent_exit"),
    [
        ("ready", 1, None),  # a pipeline thread died after start: a crash, restarted
        ("ready", -signal.SIGKILL, None),
        ("", -signal.SIGKILL, None),  # killed while starting (OOM killer): a crash
        ("", 1, 1),  # exited by itself before ready (an exception at start): did not start
        ("failed", 1, 1),  # said why: did not start
        ("", 2, 2),  # its config file no longer loads
    ],
)
def test_the_supervisor_restarts_crashes_and_stops_on_start_up_failures(
    tmp_path: Path, said: str, code: int, agent_exit: int | None
) -> None:
    from logship.app.config_file import load_config
    from logship.app.supervisor import Supervisor

    path = config(tmp_path, 2, tmp_path / "out" / "logs.ndjson")
    supervisor = Supervisor(load_config(path), path, 2)
    worker = supervisor.workers[0]
    worker.watch = StartWatch()
    child_fd = os.dup(worker.watch.child_fd)  # the worker's copy of the write end
    worker.watch.spawned()
    if said == "ready":
        StartReport(child_fd).ready()
    elif said == "failed":
        StartReport(child_fd).failed("sinks[0] (out): cannot write ...")
    else:
        os.close(child_fd)  # it exits without a word
    try:
        assert supervisor._failed_to_start(worker, code) is (agent_exit is not None)
        assert supervisor.failure == agent_exit
    finally:
        worker.watch.close()


def test_healthz_with_workers_shows_a_crash_loop_as_restarts_and_the_last_exit_code(
    tmp_path: Path,
) -> None:
    from logship.app.config_file import load_config
    from logship.app.federation import federation_routes
    from logship.app.supervisor import Supervisor

    path = config(tmp_path, 2, tmp_path / "out" / "logs.ndjson")
    supervisor = Supervisor(load_config(path), path, 2)
    crashing = supervisor.workers[1]
    crashing.restarts = 3
    crashing.exit_codes = [-signal.SIGKILL, -signal.SIGKILL, 1]
    status, _, body = federation_routes(supervisor)["/healthz"]("")
    assert status == 503
    checks = {c["worker"]: c for c in orjson.loads(body)["workers"]}
    assert checks[1]["ok"] is False
    assert checks[1]["restarts"] == 3
    assert checks[1]["last_exit_code"] == 1
    assert checks[0]["restarts"] == 0


# --- restart on the same port ---------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthz_status(base: str) -> int:
    """The status of GET /healthz; 0 while nothing answers."""
    try:
        return get(base + "/healthz")[0]
    except urllib.error.URLError:
        return 0


def test_a_stopped_agent_that_served_a_request_can_be_restarted_on_its_port_at_once(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    """The server closes each connection first, so its side lingers in TIME-WAIT after a
    request: without SO_REUSEADDR the next start failed with "Address already in use"."""
    port = free_port()
    doc = base_config(tmp_path, {"name": "out", "type": "file", "path": str(tmp_path / "o.ndjson")})
    doc["agent"]["http"] = {"address": f"127.0.0.1:{port}"}
    doc["agent"]["workers"] = 1
    config = write_config(tmp_path / "agent.yaml", doc)
    base = f"http://127.0.0.1:{port}"
    first = AgentProcess(config).start()
    agents.append(first)
    first.wait_for_log("HTTP endpoint listening.")
    assert get(base + "/healthz")[0] == 200
    assert first.stop() == 0
    second = AgentProcess(config).start()
    agents.append(second)
    wait_until(
        lambda: healthz_status(base) == 200 or not second.running(),
        message="the restarted agent serves /healthz (or exits)",
    )
    assert second.running(), second.stderr_text()[-2000:]
    assert healthz_status(base) == 200
    assert second.stop() == 0


@pytest.mark.parametrize("holder_reuses_address", [False, True])
def test_a_port_a_live_process_listens_on_is_still_refused_with_a_clear_message(
    tmp_path: Path, holder_reuses_address: bool
) -> None:
    """SO_REUSEADDR must not let a second agent share a port: on Linux a listening socket
    keeps it, whether or not that socket set SO_REUSEADDR too (another logship does)."""
    with socket.socket() as holder:
        if holder_reuses_address:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        doc = base_config(
            tmp_path, {"name": "out", "type": "file", "path": str(tmp_path / "o.ndjson")}
        )
        doc["agent"]["http"] = {"address": f"127.0.0.1:{port}"}
        doc["agent"]["workers"] = 1
        result = run_cli("run", "-c", str(write_config(tmp_path / "agent.yaml", doc)))
    assert result.returncode == 1
    assert (
        f"agent.http.address: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another process listens there)" in result.stderr
    )
