"""From API objects to what records carry: a pod's facts (`PodInfo`) and, per container, the
`kubernetes.*` / `container.*` fields in ECS and Filebeat names (`ContainerView`).

Label and annotation keys are "dedotted" as Filebeat does by default (`labels.dedot: true`):
every `.` becomes `_`, so `app.kubernetes.io/name` is `kubernetes.labels.app_kubernetes_io/name`
and never collides with an object `app`; `/` stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lightkube.resources.core_v1 import Pod

ANNOTATION_PREFIX = "logship.io/"
HINTS = ("parsers", "multiline", "exclude")
"""The annotations that drive the agent: `logship.io/<hint>`, `logship.io/<hint>-<container>`."""

# The CronJob controller names its Jobs `<cronjob>-<scheduled time in minutes since the epoch>`;
# without `get` on Jobs (the ClusterRole grants pods, namespaces and replicasets only) the name
# is the one way to tell. A hand-made Job named like that is reported as a CronJob's.
_CRONJOB_JOB = re.compile(r"^(?P<cronjob>.+)-\d{8,}$")


def dedot(values: Mapping[str, str] | None) -> dict[str, str]:
    """Keys with `.` replaced by `_` (Filebeat's dedot)."""
    return {k.replace(".", "_"): v for k, v in (values or {}).items()}


@dataclass(frozen=True, slots=True)
class PodInfo:
    """What the cache keeps of one pod (immutable: a watch event replaces it whole)."""

    uid: str
    name: str
    namespace: str
    ip: str | None
    node: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    owners: dict[str, str]
    """`replicaset` / `deployment` / `statefulset` / `daemonset` / `job` / `cronjob` -> name."""
    containers: dict[str, tuple[str | None, str | None]]
    """Container name -> (image, runtime id without the `containerd://` scheme)."""
    views: dict[tuple[str, int], ContainerView] = field(default_factory=dict, compare=False)
    """Built views by (container, id of the namespace labels they were built with)."""


def pod_info(pod: Pod, deployment_of: Callable[[str, str], str | None]) -> PodInfo:
    """The facts of `pod`; `deployment_of(namespace, replicaset)` names a ReplicaSet's Deployment."""
    meta = pod.metadata
    assert meta is not None
    assert meta.uid
    assert meta.name
    namespace = meta.namespace or "default"
    owners: dict[str, str] = {}
    for ref in meta.ownerReferences or []:
        if ref.controller is False:
            continue
        kind = ref.kind.lower()
        if kind in ("replicaset", "statefulset", "daemonset", "job"):
            owners[kind] = ref.name
    if "replicaset" in owners:
        deployment = deployment_of(namespace, owners["replicaset"])
        if deployment:
            owners["deployment"] = deployment
    if "job" in owners:
        m = _CRONJOB_JOB.match(owners["job"])
        if m:
            owners["cronjob"] = m["cronjob"]
    containers: dict[str, tuple[str | None, str | None]] = {}
    spec = pod.spec
    if spec is not None:
        for c in [*(spec.initContainers or []), *spec.containers]:
            containers[c.name] = (c.image, None)
    status = pod.status
    if status is not None:
        for cs in [*(status.initContainerStatuses or []), *(status.containerStatuses or [])]:
            image = containers.get(cs.name, (cs.image, None))[0] or cs.image
            runtime_id = (cs.containerID or "").partition("://")[2] or None
            containers[cs.name] = (image, runtime_id)
    return PodInfo(
        uid=meta.uid,
        name=meta.name,
        namespace=namespace,
        ip=status.podIP if status is not None else None,
        node=spec.nodeName if spec is not None else None,
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
        owners=owners,
        containers=containers,
    )


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One container's metadata as the tailer applies it (`logship.tail.pod_context.PodView`)."""

    namespace: str
    pod: str
    fields: dict[str, Any]
    """`kubernetes.*` and `container.*`, merged into every record of the container's files."""
    parsers: tuple[str, str] | None
    """(annotation key, value) of `logship.io/parsers[-<container>]`, if set."""
    multiline: tuple[str, str] | None
    exclude: tuple[str, str] | None


def container_view(
    info: PodInfo,
    container: str,
    namespace_labels: Mapping[str, str] | None,
    copy_labels: bool,
    annotations: tuple[str, ...],
) -> ContainerView:
    """The view of `container` of the pod (the namespace's labels when they are copied)."""
    kube: dict[str, Any] = {
        "namespace": info.namespace,
        "pod": {"name": info.name, "uid": info.uid},
        "container": {"name": container},
    }
    if info.ip:
        kube["pod"]["ip"] = info.ip
    if info.node:
        kube["node"] = {"name": info.node}
    if namespace_labels:
        kube["namespace_labels"] = dedot(namespace_labels)
    if copy_labels and info.labels:
        kube["labels"] = dedot(info.labels)
    copied = {k: info.annotations[k] for k in annotations if k in info.annotations}
    if copied:
        kube["annotations"] = dedot(copied)
    for kind, name in info.owners.items():
        kube[kind] = {"name": name}
    fields: dict[str, Any] = {"kubernetes": kube}
    image, runtime_id = info.containers.get(container, (None, None))
    if image or runtime_id:
        fields["container"] = {}
        if runtime_id:
            fields["container"]["id"] = runtime_id
        if image:
            fields["container"]["image"] = {"name": image}
    hints = [_hint(info.annotations, name, container) for name in HINTS]
    return ContainerView(info.namespace, info.name, fields, *hints)


def _hint(annotations: Mapping[str, str], name: str, container: str) -> tuple[str, str] | None:
    """The container's own `logship.io/<name>-<container>`, else the pod's `logship.io/<name>`."""
    for key in (f"{ANNOTATION_PREFIX}{name}-{container}", f"{ANNOTATION_PREFIX}{name}"):
        value = annotations.get(key)
        if value is not None:
            return key, value
    return None
