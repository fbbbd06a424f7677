"""Proof: the agent exposes nothing it should not.

- Its HTTP endpoint, and its workers' endpoints, listen on the loopback only unless the config
  names another address (checked on the sockets the processes actually hold).
- No secret (Elasticsearch password, API key, bearer token, Kafka SASL password, nor the
  Authorization header made of them) appears in `logship check`, the self-logs, /status,
  /metrics, /healthz or /readyz, even while the cluster refuses the credentials.
- The data folder is private (0700) and the registry, its last good copy, the lock files and the
  dead letters are 0600, with every worker and even under umask 000.
- TLS to Elasticsearch is verified: against the configured CA, and refused (nothing is sent, not
  even GET /) for a certificate of another host name, of another CA, or self-signed without
  a CA configured.
- The container image runs as a numeric non-root user (Kubernetes `runAsNonRoot` can check it).
- Symlinks out of an input's folders: tests/prove/test_symlinks.py.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.state.checkpoint import CheckpointStore, FileCheckpoint
from logship.state.shard import Shard
from logship.tail.identity import FileIdentity
from tests.certs import make_ca, make_server_cert
from tests.doubles.es_server import EsServer
from tests.harness import REPO, AgentProcess, count_lines, run_cli, wait_until, write_config
from tests.prove.endpoint import base_url, get
from tests.prove.ledger import RULE
from tests.prove.process_tree import tree

# --- listening sockets ---------------------------------------------------------------------


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            # /proc shows each 32-bit word of the address in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
            found.add((str(ipaddress.ip_address(raw)), int(port, 16)))
    return found


def two_files_config(tmp_path: Path, **agent: Any) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    for name in ("a", "b"):
        (logs / f"{name}.log").write_text("hello\n")
    return write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {"data_dir": str(tmp_path / "data"), **agent},
            "inputs": [{"name": "app", "paths": [str(logs / "*.log")], "poll_interval": "50ms"}],
            "sinks": [{"name": "out", "type": "file", "path": str(tmp_path / "out.ndjson")}],
        },
    )


def test_the_agent_and_its_workers_listen_on_the_loopback_only_by_default(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    agent = AgentProcess(two_files_config(tmp_path, workers=2)).start()
    agents.append(agent)
    wait_until(lambda: count_lines(tmp_path / "out.ndjson") == 2, message="both workers ship")

    def sockets() -> set[tuple[str, int]]:
        return {s for pid in tree(agent.pid) for s in listening(pid)}

    # Each worker serves on a loopback port of its own; the supervisor on 127.0.0.1:9600 unless
    # another agent on this machine has it (then its endpoint is off, with a warning).
    found = wait_until(lambda: s if len(s := sockets()) >= 2 else None, message="the listeners")
    assert all(ipaddress.ip_address(address).is_loopback for address, _ in found), found
    assert agent.stop() == 0


def test_another_address_is_used_only_when_the_config_names_it(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    agent = AgentProcess(
        two_files_config(tmp_path, workers=1, http={"address": "0.0.0.0:0"})
    ).start()
    agents.append(agent)
    base_url(agent)
    assert {address for address, _ in listening(agent.pid)} == {"0.0.0.0"}
    assert agent.stop() == 0


# --- secrets ----------------------------------------------------------------------------------

ES_PASSWORD = 'es-Pw"Zq83-s3cret'
API_KEY = base64.b64encode(b"key-id:api-key-s3cret").decode()
BEARER = "tok-Bearer-s3cret-77"
KAFKA_PASSWORD = "kafka-sasl-s3cret-99"


def forms(secret: str) -> list[str]:
    """A secret as it could leak: itself, JSON-escaped, inside a basic Authorization header."""
    return [
        secret,
        orjson.dumps(secret).decode()[1:-1],
        base64.b64encode(f"agent:{secret}".encode()).decode(),
    ]


def assert_no_secret(text: str, where: str) -> None:
    for secret in (ES_PASSWORD, API_KEY, BEARER, KAFKA_PASSWORD):
        for form in forms(secret):
            assert form not in text, f"a secret appears in {where}"


def test_no_secret_appears_in_check_self_logs_or_any_route(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("".join(f"line {i} x\n" for i in range(50)))
    with EsServer() as server:
        # The basic credentials are accepted (so they went over the wire), the others refused.
        basic = "Basic " + base64.b64encode(f"agent:{ES_PASSWORD}".encode()).decode()
        server.state.credentials = {basic}

        def es(name: str, auth: dict[str, str]) -> dict[str, Any]:
            return {
                "name": name,
                "type": "elasticsearch",
                "hosts": [server.url],
                "auth": auth,
                "auth_retry_interval": "200ms",
                "retry": {"max_backoff": "200ms"},
            }

        config = write_config(
            tmp_path / "agent.yaml",
            {
                "agent": {
                    "data_dir": str(tmp_path / "data"),
                    "workers": 1,
                    "http": {"address": "127.0.0.1:0"},
                    "shutdown_timeout": "2s",
                },
                "inputs": [
                    {"name": "app", "paths": [str(logs / "*.log")], "parsers": ["numbered"]}
                ],
                "parsers": [RULE],
                "sinks": [
                    es("basic", {"username": "agent", "password": "${ES_PW}"}),
                    es("key", {"api_key": API_KEY}),  # written in the file itself
                    es("bearer", {"bearer_token": "${BEARER}"}),
                    {
                        "name": "kafka",
                        "type": "kafka",
                        "bootstrap_servers": ["127.0.0.1:1"],
                        "topic": "logs",
                        "metadata_timeout": "1s",
                        "shutdown_timeout": "1s",
                        "producer_options": {
                            "security.protocol": "SASL_PLAINTEXT",
                            "sasl.mechanism": "PLAIN",
                            "sasl.username": "agent",
                            "sasl.password": "${KAFKA_PW}",
                        },
                    },
                ],
            },
        )
        env = {"ES_PW": ES_PASSWORD, "BEARER": BEARER, "KAFKA_PW": KAFKA_PASSWORD}
        check = run_cli("check", "-c", str(config), env=env)
        assert check.returncode == 0, check.stderr
        assert "***" in check.stdout
        assert_no_secret(check.stdout + check.stderr, "logship check")

        agent = AgentProcess(config, env=env).start()
        agents.append(agent)
        base = base_url(agent)
        wait_until(lambda: server.state.count() == 50, timeout=60, message="the basic sink ships")
        refused = "Elasticsearch refused the agent's credentials; nothing is indexed until this is fixed. Retrying slowly."
        wait_until(
            lambda: (
                {e.get("sink") for e in agent.logs() if e.get("message") == refused}
                >= {"key", "bearer"}
            ),
            timeout=60,
            message="the api key and the bearer token refused",
        )
        agent.wait_for_log("Kafka is unreachable; the agent keeps running and retrying.")
        sent = {
            v
            for r in server.state.requests
            for k, v in r.headers.items()
            if k.lower() == "authorization"
        }
        assert basic in sent, "the credentials went over the wire: a leak had its chance"
        for route in ("/status", "/metrics", "/healthz", "/readyz"):
            assert_no_secret(get(base + route)[1].decode(errors="replace"), route)
        assert agent.stop() == 0
        assert_no_secret(agent.stderr_text(), "the self-logs")


# --- file modes --------------------------------------------------------------------------------


class UmaskAgent(AgentProcess):
    """The agent started with umask 000: the modes it sets must not depend on the umask."""

    def start(self) -> UmaskAgent:
        stderr = self.stderr_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logship", "run", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=self.env,
            cwd=REPO,
            umask=0,
        )
        stderr.close()
        return self


def keys(folder: Path, names: list[str]) -> list[str]:
    """The identity keys (device:inode) of `folder/<name>.log`."""
    return [FileIdentity.of((folder / f"{name}.log").stat()).key for name in names]


def test_state_files_are_private_with_every_worker_even_under_umask_000(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # Files go to workers by a hash of device:inode: make files until each worker owns one.
    names: list[str] = []
    while len(names) < 3 or {Shard(0, 2).owns(key) for key in keys(logs, names)} != {True, False}:
        names.append(f"app{len(names)}")
        (logs / f"{names[-1]}.log").write_text(
            "".join(f"line {i} {'bad' if i % 10 == 0 else 'ok'}\n" for i in range(100))
        )
        assert len(names) < 64, "the shard hash put every file in one worker"
    files = len(names)
    with EsServer() as server:
        # Every tenth record is refused for good: dead letters in every worker.
        server.state.item_fault = lambda index, doc_id, doc: (
            (400, {"type": "document_parsing_exception", "reason": "refused"})
            if doc.get("pad") == "bad"
            else None
        )
        config = write_config(
            tmp_path / "agent.yaml",
            {
                "agent": {
                    "data_dir": str(tmp_path / "data"),
                    "workers": 2,
                    "checkpoint_interval": "100ms",
                },
                "inputs": [
                    {"name": "app", "paths": [str(logs / "*.log")], "parsers": ["numbered"]}
                ],
                "parsers": [RULE],
                "sinks": [
                    {"name": "es", "type": "elasticsearch", "hosts": [server.url]},
                    {"name": "out", "type": "file", "path": str(tmp_path / "out" / "o.ndjson")},
                ],
            },
        )
        agent = UmaskAgent(config).start()
        agents.append(agent)
        data = tmp_path / "data"
        wait_until(
            lambda: server.state.count() >= 90 * files, timeout=60, message="the good records"
        )
        registries = list(data.glob("registry.worker-*.json"))
        for name in names:  # a second round: each registry is replaced, and copied
            with (logs / f"{name}.log").open("a") as f:
                f.write("".join(f"line {i} ok\n" for i in range(100, 200)))
        wait_until(
            lambda: server.state.count() >= 190 * files, timeout=60, message="the second round"
        )
        wait_until(
            lambda: (
                sum(count_lines(p) for p in (data / "dead-letter").glob("*.jsonl")) >= 10 * files
            ),
            timeout=60,
            message="the dead letters",
        )
        wait_until(
            lambda: len(list(data.glob("registry*.json.bak"))) >= len(registries),
            message="the last good copies",
        )
        assert agent.stop() == 0

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.lstat().st_mode)

    assert mode(data) == 0o700, f"data folder {oct(mode(data))}"
    assert mode(data / "dead-letter") == 0o700
    private = [
        *data.glob("registry*.json"),
        *data.glob("registry*.json.bak"),
        *data.glob(".lock*"),
        *(data / "dead-letter").glob("*.jsonl"),
    ]
    assert len(list((data / "dead-letter").glob("*.jsonl"))) == 2, "one file per worker"
    assert len(list(data.glob("registry.worker-*.json"))) == 2
    for path in private:
        assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"
    assert mode(tmp_path / "out" / "o.ndjson") == 0o640, "the file sink's file_mode, not umask"


def test_a_link_planted_under_the_registry_temp_name_is_never_written_through(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json.tmp").symlink_to(victim)
    store = CheckpointStore(data)
    store.load()
    assert store.save({"1:2": FileCheckpoint("/var/log/a.log", 7, "ab", 10, 1.0)})
    assert victim.read_text() == "precious\n"
    assert CheckpointStore(data).load()["1:2"].offset == 7
    assert not (data / "registry.json.tmp").exists()


# --- TLS to Elasticsearch ------------------------------------------------------------------


def tls_agent(tmp_path: Path, url: str, tls: dict[str, Any]) -> AgentProcess:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "app.log").write_text("".join(f"line {i} x\n" for i in range(100)))
    config = write_config(
        tmp_path / "agent.yaml",
        {
            "agent": {
                "data_dir": str(tmp_path / "data"),
                "workers": 1,
                "http": {"address": None},
                "shutdown_timeout": "2s",
            },
            "inputs": [{"name": "app", "paths": [str(logs / "*.log")], "parsers": ["numbered"]}],
            "parsers": [RULE],
            "sinks": [
                {
                    "name": "es",
                    "type": "elasticsearch",
                    "hosts": [url],
                    "tls": tls,
                    "retry": {"initial_backoff": "50ms", "max_backoff": "200ms"},
                }
            ],
        },
    )
    return AgentProcess(config)


def test_tls_is_verified_against_the_configured_ca(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    ca = make_ca(tmp_path / "tls", "right-ca")
    cert, key = make_server_cert(tmp_path / "tls", ca, "server", ["localhost"], ["127.0.0.1"])
    with EsServer(certfile=cert, keyfile=key) as server:
        agent = tls_agent(tmp_path, server.url, {"ca_file": str(ca.cert_file)}).start()
        agents.append(agent)
        wait_until(lambda: server.state.count() == 100, timeout=60, message="shipped over TLS")
        assert agent.stop() == 0


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("another host name", r"Hostname mismatch|doesn't match|not valid for"),
        ("another CA", r"unable to get local issuer certificate"),
        ("self-signed, no CA configured", r"self.signed certificate|unable to get local issuer"),
    ],
)
def test_tls_to_a_certificate_that_does_not_verify_is_refused_and_nothing_is_sent(
    tmp_path: Path, agents: list[AgentProcess], case: str, problem: str
) -> None:
    folder = tmp_path / "tls"
    right = make_ca(folder, "right-ca")
    other = make_ca(folder, "other-ca")
    if case == "another host name":
        cert, key = make_server_cert(folder, right, "server", ["elsewhere.example"], [])
        tls = {"ca_file": str(right.cert_file)}
    elif case == "another CA":
        cert, key = make_server_cert(folder, right, "server", ["localhost"], ["127.0.0.1"])
        tls = {"ca_file": str(other.cert_file)}
    else:
        cert, key = make_server_cert(folder, right, "server", ["localhost"], ["127.0.0.1"])
        tls = {}
    with EsServer(certfile=cert, keyfile=key) as server:
        agent = tls_agent(tmp_path, server.url, tls).start()
        agents.append(agent)
        warning = agent.wait_for_log(
            "Elasticsearch is not reachable; starting anyway, records wait until it is."
        )
        assert warning["error"].startswith("TlsError"), warning["error"]
        assert re.search(problem, warning["error"]), warning["error"]
        failing = agent.wait_for_log("Sink failing; retrying with backoff.")
        assert re.search(problem, failing["reason"]), failing["reason"]
        assert agent.running()
        assert agent.stop() == 0
        assert server.state.requests == [], "not even GET / got through"
        assert server.state.bulks == [], "no record was sent to an unverified server"


# --- the container image -------------------------------------------------------------------


def test_the_image_runs_as_a_numeric_non_root_user_to_the_end() -> None:
    text = (REPO / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM ") :]
    users = re.findall(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert users, "the final stage sets a USER"
    uid, _, gid = users[-1].partition(":")
    # Kubernetes' runAsNonRoot can only verify a numeric user.
    assert uid.isdigit(), users[-1]
    assert int(uid) != 0, users[-1]
    assert not gid or int(gid) != 0
    after = final[final.rindex("\nUSER ") :]
    assert not re.search(r"^(RUN|USER)\b", after.split("\n", 2)[-1], re.MULTILINE), (
        "nothing runs as another user after the final USER"
    )
    uid_arg = re.search(r"^ARG UID=(\d+)", final, re.MULTILINE)
    assert uid_arg is not None
    assert uid_arg[1] == uid, "the logship user is the one the image runs as"
    assert re.search(r"install -d -o logship -g logship -m 0750 /var/lib/logship", final), (
        "the data volume belongs to that user and is not world-readable"
    )
