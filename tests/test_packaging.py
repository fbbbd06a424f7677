"""Packaging: the Dockerfile, the Kubernetes manifests and the systemd unit, checked as files.

No container engine or cluster runs here, so these tests read the files: they parse, carry the
fields that matter (non-root user, probes on the right routes and port, mounts, resources), and
the agent configs they embed pass `logship check`.
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from logship.app.config import Config
from logship.app.config_file import parse_config
from logship.tail.container import kubernetes_fields
from logship.tail.stages import LineStages
from parsers.chain import ParserChain
from tests.harness import REPO, run_cli

K8S = REPO / "deploy" / "kubernetes"
ENV = {
    "NODE_NAME": "node-1",
    "POD_NAME": "example-app-0",
    "ES_URL": "https://elasticsearch:9200",
    "ES_USERNAME": "logship",
    "ES_PASSWORD": "not-a-real-password",
}


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1] :]


def test_the_dockerfile_is_multi_stage_on_a_slim_base() -> None:
    instructions = dockerfile_instructions()
    froms = [args for word, args in instructions if word == "FROM"]
    assert len(froms) >= 2
    assert all("slim" in f for f in froms)
    final = final_stage(instructions)
    assert any(word == "RUN" and "from=build" in args for word, args in final), (
        "the runtime stage installs what the build stage made"
    )
    assert not any(word == "RUN" and "pip wheel" in args for word, args in final)


def test_the_image_runs_as_a_non_root_user_with_a_data_volume_and_a_healthcheck() -> None:
    final = final_stage(dockerfile_instructions())
    (user,) = [args for word, args in final if word == "USER"]
    name = user.split(":")[0]
    assert name not in ("root", "0")
    assert any(word == "VOLUME" and "/var/lib/logship" in args for word, args in final)
    (health,) = [args for word, args in final if word == "HEALTHCHECK"]
    assert "/healthz" in health
    assert "--interval" in health
    env = " ".join(args for word, args in final if word == "ENV")
    assert "LOGSHIP_HTTP_ADDRESS=0.0.0.0:9600" in env
    assert any(word == "EXPOSE" and "9600" in args for word, args in final)
    (entry,) = [args for word, args in final if word == "ENTRYPOINT"]
    assert '"logship"' in entry
    (cmd,) = [args for word, args in final if word == "CMD"]
    assert "/etc/logship/logship.yaml" in cmd
    copied = [args.split()[-2:] for word, args in final if word == "COPY" and "--from" not in args]
    assert ["deploy/docker/logship.yaml", "/etc/logship/logship.yaml"] in copied


def test_the_build_context_keeps_out_everything_but_the_package() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    included = {line[1:] for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "README.md", "logship", "parsers", "sinks"} <= included
    copied = [
        args.split()[0]
        for word, args in dockerfile_instructions()
        if word == "COPY" and "--from" not in args
    ]
    for source in copied:
        assert source in included or source.rstrip("/") in included, f"COPY {source} is ignored"


def test_the_image_config_is_valid_and_listens_everywhere_only_in_the_container(
    tmp_path: Path,
) -> None:
    config = REPO / "deploy" / "docker" / "logship.yaml"
    # Port 0: `check` binds the address, and 9600 may be held by an agent of another test.
    done = run_cli("check", "-c", str(config), env={"LOGSHIP_HTTP_ADDRESS": "0.0.0.0:0"})
    assert done.returncode == 0, done.stderr
    assert "address: 0.0.0.0:0" in done.stdout
    text = config.read_text()
    assert parse_config(text, "image", tmp_path, environ={}).agent.http.address == "127.0.0.1:9600"
    loaded = parse_config(text, "image", tmp_path, environ={"LOGSHIP_HTTP_ADDRESS": "0.0.0.0:9600"})
    assert str(loaded.agent.data_dir) == "/var/lib/logship"


# --- Kubernetes -------------------------------------------------------------------------------


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """Every object in deploy/kubernetes/*.yaml by (kind, name)."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["apiVersion"], path
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def agent_config(configmap: dict[str, Any], tmp_path: Path) -> tuple[Path, Config]:
    text = configmap["data"]["logship.yaml"]
    path = tmp_path / "logship.yaml"
    # `check` binds the address: port 0 so that an agent of another test holding 9600 does not
    # fail it (the text as shipped is still parsed below).
    path.write_text(text.replace("0.0.0.0:9600", "0.0.0.0:0"))
    done = run_cli("check", "-c", str(path), env=ENV)
    assert done.returncode == 0, done.stderr
    assert ENV["ES_PASSWORD"] not in done.stdout
    return path, parse_config(text, "configmap", tmp_path, environ=ENV)


def container_port(container: dict[str, Any], name: str) -> int:
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == name]
    return int(port)


def test_the_kustomization_lists_the_daemonset_files_and_they_parse() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    kinds = {kind for kind, _ in manifests()}
    assert {"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet", "Deployment"} <= kinds


def test_the_daemonset_mounts_logs_read_only_and_checkpoints_on_the_node() -> None:
    ds = manifests()[("DaemonSet", "logship")]
    assert ds["apiVersion"] == "apps/v1"
    spec = ds["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for path in ("/var/log", "/var/log/pods"):
        mount = mounts[path]
        assert host_paths[mount["name"]] == path
        assert mount["readOnly"] is True
    data = mounts["/var/lib/logship"]
    assert host_paths[data["name"]] == "/var/lib/logship"
    assert not data.get("readOnly", False)
    config = mounts["/etc/logship"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == config["name"]]
    assert volume["configMap"]["name"] == "logship-config"
    # The API token for agent.kubernetes (pod metadata), bound to a read-only ClusterRole.
    assert pod["automountServiceAccountToken"] is True


def test_the_cluster_role_grants_exactly_get_list_watch_on_pods_namespaces_replicasets() -> None:
    role = manifests()[("ClusterRole", "logship")]
    granted = {
        (group, resource): sorted(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    verbs = ["get", "list", "watch"]
    assert granted == {
        ("", "pods"): verbs,
        ("", "namespaces"): verbs,
        ("apps", "replicasets"): verbs,
    }
    binding = manifests()[("ClusterRoleBinding", "logship")]
    assert binding["roleRef"]["name"] == "logship"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "logship", "namespace": "logging"}
    ]
    ds = manifests()[("DaemonSet", "logship")]
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_the_daemonset_has_resources_probes_and_a_locked_down_container() -> None:
    ds = manifests()[("DaemonSet", "logship")]
    pod = ds["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    resources = container["resources"]
    assert resources["requests"]["cpu"]
    assert resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    port = container_port(container, "http")
    assert port == 9600
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert not security.get("privileged", False)
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    # The drain (agent.shutdown_timeout) fits in the grace period.
    configmap = manifests()[("ConfigMap", "logship-config")]
    shutdown = parse_config(configmap["data"]["logship.yaml"], "cm", Path("/"), environ=ENV)
    assert pod["terminationGracePeriodSeconds"] > shutdown.agent.shutdown_timeout


def test_the_daemonset_config_is_valid_and_matches_the_pod(tmp_path: Path) -> None:
    objects = manifests()
    _, config = agent_config(objects[("ConfigMap", "logship-config")], tmp_path)
    pod = objects[("DaemonSet", "logship")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert config.agent.http.host_port == ("0.0.0.0", container_port(container, "http"))
    assert str(config.agent.data_dir) == "/var/lib/logship"
    assert config.agent.host_name == ENV["NODE_NAME"]
    mounted = [m["mountPath"] for m in container["volumeMounts"]]
    for inp in config.inputs:
        for pattern in inp.paths:
            assert any(pattern.startswith(m + "/") for m in mounted), pattern
    env_names = {e["name"] for e in container["env"]}
    text = objects[("ConfigMap", "logship-config")]["data"]["logship.yaml"]
    assert set(re.findall(r"\$\{(\w+)", text)) <= env_names
    assert "/etc/logship/logship.yaml" in container["args"]


def test_the_daemonset_input_unwraps_cri_container_lines() -> None:
    configmap = manifests()[("ConfigMap", "logship-config")]
    config = parse_config(configmap["data"]["logship.yaml"], "cm", Path("/"), environ=ENV)
    (inp,) = config.inputs
    assert inp.container == "cri"
    data = (
        b"2024-01-15T10:00:00.123456789Z stdout F GET /healthz 200\n"
        b"2024-01-15T10:00:01.5+01:00 stderr P part of a \n"
        b"2024-01-15T10:00:01.6+01:00 stderr F long line\n"
        b"2024-01-15T10:00:02Z stdout F \n"
    )
    lines = LineStages(0, inp).feed(data)
    path = "/var/log/pods/shop_web-1_0f2c1f7e-1111-2222-3333-444455556666/nginx/0.log"
    entries, _stats = ParserChain([], "node-1").parse(
        lines, {"path": path}, "read-time", kubernetes_fields(path)
    )
    assert [e["message"] for e in entries] == ["GET /healthz 200", "part of a long line", ""]
    assert [e["log"]["stream"] for e in entries] == ["stdout", "stderr", "stdout"]
    assert entries[0]["@timestamp"] == "2024-01-15T10:00:00.123Z"
    assert entries[1]["@timestamp"] == "2024-01-15T09:00:01.500Z"
    assert entries[1]["kubernetes"]["namespace"] == "shop"
    assert entries[1]["kubernetes"]["pod"]["name"] == "web-1"
    assert entries[1]["kubernetes"]["container"]["name"] == "nginx"


def test_the_sidecar_shares_an_empty_dir_with_the_app_and_its_config_is_valid(
    tmp_path: Path,
) -> None:
    objects = manifests()
    deployment = objects[("Deployment", "example-app")]
    pod = deployment["spec"]["template"]["spec"]
    (agent,) = [c for c in pod["initContainers"] if c["name"] == "logship"]
    assert agent["restartPolicy"] == "Always"  # a native sidecar: stops after the app
    (app,) = pod["containers"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    app_mounts = {m["name"]: m["mountPath"] for m in app["volumeMounts"]}
    agent_mounts = {m["name"]: m for m in agent["volumeMounts"]}
    shared = empty_dirs & app_mounts.keys() & agent_mounts.keys()
    assert shared, "no emptyDir mounted in both containers"
    _, config = agent_config(objects[("ConfigMap", "example-app-logship")], tmp_path)
    (inp,) = config.inputs
    log_dirs = {app_mounts[name] for name in shared}
    assert any(pattern.startswith(d + "/") for pattern in inp.paths for d in log_dirs)
    assert agent["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "readinessProbe" not in agent, "a sidecar's readiness would gate the app's traffic"
    assert config.agent.http.host_port == ("0.0.0.0", container_port(agent, "logship-http"))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert agent["securityContext"]["readOnlyRootFilesystem"] is True


# --- systemd --------------------------------------------------------------------------------------


def test_the_systemd_unit_runs_the_agent_unprivileged_and_restarts_it() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "deploy" / "systemd" / "logship.service")
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/logship")
    assert command[1:3] == ["run", "-c"]
    assert service["User"] not in ("root", "0")
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"  # config errors
    assert service["StateDirectory"] == "logship"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 20  # > the default shutdown_timeout
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
