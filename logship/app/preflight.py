"""Start-up checks without side effects, shared by `logship run` and `logship check`.

`run` calls them before it claims anything (the supervisor, and each worker again: a restarted
worker meets a disk that became read-only); `check` calls the same functions, so it refuses what
`run` refuses, with the same messages. Checked:

- `agent.data_dir` and its dead-letter folder: a folder that is writable, or can be created;
- each file sink's `path`: a file that can be appended to, or created (its folder writable or
  creatable; a path under a regular file never is);
- TLS files of the sinks and alert destinations (CA, client certificate and key, librdkafka's
  `ssl.*.location` options) load;
- the GeoIP databases of `enrich:` steps open (logship.app.enrich_wiring);
- field names of your rules that clash with ECS objects (`user_agent` as a string: a warning,
  `logship.app.ecs_names`);
- sinks no input routes to (`inputs[].sinks`): a warning;
- `agent.kubernetes`: the kubeconfig loads (no service account without one: a warning, since a
  DaemonSet's config is usually checked outside its pod; the API itself is not contacted);
- the HTTP address is free (`check` only: `run` binds it for real, and words a failure through
  the same `listen_problem`).

Writability is probed by creating a temporary file in the nearest existing folder and removing
it at once: nothing is left behind. (`os.access` would not do: root passes it everywhere, and it
does not see read-only mounts for every filesystem.) Connections (Kafka brokers, Elasticsearch,
webhooks) are not made here: `run` checks them at start, and an unreachable target only makes
the agent not ready.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logship.app.config import Config, HttpSettings
from logship.app.ecs_names import ecs_warnings
from logship.app.enrich_wiring import database_problems
from logship.app.http_endpoint import HttpEndpoint, listen_problem
from logship.app.routes import unreachable_sinks
from logship.state.data_dir import StartupError
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.file import FileSinkSettings
from sinks.http.config import HttpSinkSettings
from sinks.kafka.config import KafkaSinkSettings

log = logging.getLogger(__name__)

NETWORK_NOTE = (
    "connections to Kafka, Elasticsearch and HTTP endpoints are not tried here; "
    "`logship run` checks them at start (an unreachable target makes the agent not ready, "
    "a refusal stops the start)"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the agent would not start (fatal), or would start without something."""

    message: str
    """Starts with the config key, says what is wrong and what to do."""
    fatal: bool = True


def problems(config: Config, *, ports: bool = False) -> list[Problem]:
    """Every start-up problem of `config` found without side effects; `ports` adds the HTTP
    address bind test (for `check`)."""
    found = [Problem(m) for m in _path_problems(config)]
    found += [Problem(m) for m in _tls_problems(config)]
    found += [Problem(m) for m in database_problems(config)]
    found += [Problem(m, fatal=False) for m in ecs_warnings(config)]
    found += [Problem(m, fatal=False) for m in unreachable_sinks(config.inputs, config.sinks)]
    found += kube_problems(config)
    if ports:
        found += http_problems(config.agent.http, Path(config.agent.data_dir))
    return found


def raise_problems(config: Config) -> None:
    """Raises StartupError with every fatal problem (the checks `run` makes before it starts);
    logs the others as warnings."""
    found = problems(config)
    for problem in found:
        if not problem.fatal:
            log.warning("Start-up check warning.", extra={"warning": problem.message})
    fatal = [p.message for p in found if p.fatal]
    if fatal:
        raise StartupError("\n".join(fatal))


def folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot serve as a writable folder (created when missing), or None."""
    existing = Path(os.path.abspath(folder))
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        if existing == Path(os.path.abspath(folder)):
            return "not a folder"
        return f"{existing} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".logship-probe-", dir=existing)
    except OSError as exc:
        if existing == Path(os.path.abspath(folder)):
            return str(exc.strerror)  # the message names the folder already
        return f"cannot write in {existing}: {exc.strerror}"
    os.close(fd)
    os.unlink(probe)
    return None


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be appended to (or created), or None. Opens an existing file without
    creating or changing it."""
    if os.path.isdir(path):
        return "it is a folder"
    if not os.path.lexists(path):
        problem = folder_problem(path.parent)
        return f"{path.parent} is not a folder" if problem == "not a folder" else problem
    try:
        # O_NONBLOCK: a FIFO without a reader answers at once instead of hanging the check.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        return str(exc.strerror)
    os.close(fd)
    return None


def _path_problems(config: Config) -> Iterator[str]:
    data_dir = Path(config.agent.data_dir)
    problem = folder_problem(data_dir)
    if problem is None:
        problem = folder_problem(data_dir / "dead-letter")
    if problem is not None:
        yield f"agent.data_dir: cannot use {data_dir}: {problem}; it must be a writable folder"
    for index, sink in enumerate(config.sinks):
        if isinstance(sink, FileSinkSettings):
            problem = file_problem(sink.path)
            if problem is not None:
                yield (
                    f"sinks[{index}] ({sink.name}): cannot write {sink.path}: {problem}; make "
                    f"the folder writable for the agent or choose another path"
                )


def _tls_problems(config: Config) -> Iterator[str]:
    for index, sink in enumerate(config.sinks):
        key = f"sinks[{index}] ({sink.name})"
        if isinstance(sink, ElasticsearchSinkSettings | HttpSinkSettings):
            yield from _pem_problems(key + ".tls", sink.tls)
        elif isinstance(sink, KafkaSinkSettings):
            yield from _kafka_tls_problems(key + ".producer_options", sink.producer_options)
    for index, destination in enumerate(config.alerts.destinations):
        yield from _pem_problems(f"alerts.destinations[{index}].tls", destination.tls)


def _pem_problems(key: str, tls: Any) -> Iterator[str]:
    """CA file, client certificate and key of a `tls:` section, loaded as the sink will."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(tls.ca_file))
        except (ssl.SSLError, OSError) as exc:
            yield f"{key}.ca_file: cannot load {tls.ca_file}: {_reason(exc)}; expected PEM certificates"
    if tls.client_cert is not None and tls.client_key is not None:
        try:
            context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
        except (ssl.SSLError, OSError) as exc:
            yield (
                f"{key}.client_cert: cannot load {tls.client_cert} with key {tls.client_key}: "
                f"{_reason(exc)}; expected a PEM certificate and its unencrypted private key"
            )


def _kafka_tls_problems(key: str, options: dict[str, Any]) -> Iterator[str]:
    """librdkafka's PEM files (`ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca = options.get("ssl.ca.location")
    if isinstance(ca, str) and ca != "probe":
        try:
            if os.path.isdir(ca):
                context.load_verify_locations(capath=ca)
            else:
                context.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            yield f"{key}.ssl.ca.location: cannot load {ca}: {_reason(exc)}"
    cert, private = options.get("ssl.certificate.location"), options.get("ssl.key.location")
    if isinstance(cert, str) and isinstance(private, str):
        password = options.get("ssl.key.password")
        try:
            context.load_cert_chain(cert, private, str(password) if password else None)
        except (ssl.SSLError, OSError) as exc:
            yield (
                f"{key}.ssl.certificate.location: cannot load {cert} with key {private}: "
                f"{_reason(exc)}"
            )


def _reason(exc: ssl.SSLError | OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return str(exc.strerror or exc)


def http_problems(settings: HttpSettings, data_dir: Path) -> list[Problem]:
    """Whether the HTTP address is free: bound and closed at once (SO_REUSEADDR, as `run` binds,
    so the test leaves nothing that would stop an agent started right after).

    A taken port while the agent of this `data_dir` runs is only a warning: checking the config
    of a running agent (before a reload or a restart) must not fail on its own port."""
    address = settings.host_port
    if address is None:
        return []
    endpoint = HttpEndpoint({}, *address)
    try:
        endpoint.bind()
    except OSError as exc:
        fatal, message = listen_problem(settings, exc)
        if fatal and agent_running(data_dir):
            return [Problem(f"{message} (the agent of {data_dir} is running: its own?)", False)]
        return [Problem(message, fatal)]
    with contextlib.suppress(OSError):
        endpoint.stop()
    return []


def agent_running(data_dir: Path) -> bool:
    """True when a process holds the lock of `data_dir` (an agent or supervisor runs on it).
    Opens an existing lock file only: creates nothing."""
    try:
        fd = os.open(data_dir / ".lock", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we got
    return False


def kube_problems(config: Config) -> list[Problem]:
    """`agent.kubernetes`: the kubeconfig loads (fatal), or an in-cluster service account is
    here (a warning: `logship check` of a DaemonSet's config usually runs outside the pod)."""
    settings = config.agent.kubernetes
    if settings is None:
        return []
    from logship.kube.client import load_config as load_kube_config  # only when configured

    where = settings.kubeconfig
    try:
        load_kube_config(str(where) if where is not None else None)
    except Exception as exc:  # the library's config errors, a missing file, bad YAML
        if where is not None:
            return [Problem(f"agent.kubernetes.kubeconfig: cannot load {str(where)!r}: {exc}")]
        return [
            Problem(
                "agent.kubernetes: no kubeconfig given and no in-cluster service account here "
                f"({exc}); the agent starts only inside a pod with its token, or set "
                "agent.kubernetes.kubeconfig",
                fatal=False,
            )
        ]
    return []
