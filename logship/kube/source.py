"""`KubeMetadata`: the pod watch, the namespace watch and the cache, as the tailer's pod source
(`logship.tail.pod_context.PodSource`) and a health component.

One per agent process: with `agent.workers: N`, each worker watches this node's pods (N watches
from one node; docs/kubernetes.md).
"""

from __future__ import annotations

import logging
from typing import TypeVar

from lightkube import ApiError, Client
from lightkube.core.exceptions import NotReadyError
from lightkube.core.generic_client import ListIterable
from lightkube.resources.apps_v1 import ReplicaSet
from lightkube.resources.core_v1 import Namespace, Pod
from prometheus_client import CollectorRegistry

from logship.kube.cache import PodCache
from logship.kube.client import make_client
from logship.kube.metrics import KubeMetrics
from logship.kube.objects import ContainerView, PodInfo, pod_info
from logship.kube.settings import KubernetesSettings
from logship.kube.state import ApiState
from logship.kube.watch import WATCH_TIMEOUT, ResourceWatch

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_LOGGED_ANNOTATION_ERRORS = 10_000
"""Annotation errors remembered (each is logged once); beyond, they are counted, not logged."""


class KubeMetadata:
    """Kubernetes metadata for container files: starts watching at `start`, serves `lookup`."""

    def __init__(self, settings: KubernetesSettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.wait = settings.metadata_wait
        """Seconds a new container file waits for its pod to reach the cache."""
        self.metrics = KubeMetrics(registry)
        self.metrics.cached_pods.set_function(lambda: len(self.cache))
        self.cache = PodCache(settings.deleted_pod_ttl, settings.labels, settings.annotations)
        resources = ["pods", *(["namespaces"] if settings.namespace_labels else [])]
        self.state = ApiState(resources)
        self._client: Client | None = None
        self._watches: list[ResourceWatch[Pod] | ResourceWatch[Namespace]] = []
        self._unresolved: dict[str, Pod] = {}  # pods whose ReplicaSet lookup failed: retried
        self._logged: set[tuple[str, str, str]] = set()
        self._failed_lookup = False  # set by a failed ReplicaSet lookup while a pod resolves
        self._forbidden_logged = False

    # --- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Builds the client from the kubeconfig or the service account; raises ValueError
        naming the key when neither works (the API itself is not contacted here)."""
        where = self.settings.kubeconfig
        try:
            self._client = make_client(str(where) if where is not None else None)
        except Exception as exc:  # the library's config errors, a missing file, bad YAML
            if where is not None:
                raise ValueError(
                    f"agent.kubernetes.kubeconfig: cannot load {str(where)!r}: {exc}"
                ) from None
            raise ValueError(
                "agent.kubernetes: no kubeconfig given and no in-cluster service account "
                f"found ({exc}); set agent.kubernetes.kubeconfig outside a cluster"
            ) from None

    def start(self) -> None:
        """Starts the watches (call `open` first)."""
        client = self._client
        assert client is not None, "open() first"
        node = self.settings.node
        pods: ResourceWatch[Pod] = ResourceWatch(
            "pods",
            lambda: self._list(client.list(Pod, namespace="*", fields={"spec.nodeName": node})),
            lambda version: client.watch(
                Pod,
                namespace="*",
                fields={"spec.nodeName": node},
                resource_version=version,
                server_timeout=WATCH_TIMEOUT,
            ),
            self._pods_listed,
            self._pod_event,
            self.state,
            self.metrics,
        )
        self._watches = [pods]
        if self.settings.namespace_labels:
            namespaces: ResourceWatch[Namespace] = ResourceWatch(
                "namespaces",
                lambda: self._list(client.list(Namespace)),
                lambda version: client.watch(
                    Namespace, resource_version=version, server_timeout=WATCH_TIMEOUT
                ),
                self._namespaces_listed,
                self._namespace_event,
                self.state,
                self.metrics,
            )
            self._watches.append(namespaces)
        for watch in self._watches:
            watch.start()
        log.info("Watching this node's pods.", extra={"node": node})

    def stop(self, timeout: float = 0.2) -> None:
        """Stops the watches. A watch blocked reading its stream ends when the stream does (or
        the process exits: the threads are daemons), so the join is short: the cache is not
        saved anywhere, nothing is lost by not waiting."""
        for watch in self._watches:
            watch.stop()
        if self._client is not None:
            self._client.close()
        for watch in self._watches:
            watch.join(timeout)

    # --- what the tailer asks (logship.tail.pod_context.PodSource) ------------------------

    def lookup(
        self, namespace: str, pod: str, uid: str | None, container: str
    ) -> ContainerView | None:
        """The container's metadata, or None while its pod is not in the cache."""
        return self.cache.lookup(namespace, pod, uid, container)

    @property
    def reachable(self) -> bool:
        """False while the API fails: waiting for a pod to appear would only delay lines."""
        return self.state.reachable

    def without_metadata(self, lines: int) -> None:
        """Counts lines shipped with only their path's metadata."""
        self.metrics.lines_without_metadata.inc(lines)

    def annotation_error(
        self, namespace: str, pod: str, annotation: str, value: str, problem: str
    ) -> None:
        """Counts an annotation the agent cannot follow; logs each (pod, annotation, value) once."""
        self.metrics.annotation_errors.labels(namespace, pod, annotation).inc()
        key = (f"{namespace}/{pod}", annotation, value)
        if key in self._logged or len(self._logged) >= MAX_LOGGED_ANNOTATION_ERRORS:
            return
        self._logged.add(key)
        log.warning(
            "Pod annotation ignored; the input's defaults apply.",
            extra={
                "namespace": namespace,
                "pod": pod,
                "annotation": annotation,
                "value": value,
                "problem": problem,
            },
        )

    def status(self) -> tuple[bool, str, str]:
        """(ok, state, detail) for /healthz: never not-ok (lines flow without the API)."""
        state, detail = self.state.verdict()
        return True, state, detail

    # --- the watch threads' callbacks -----------------------------------------------------

    @staticmethod
    def _list(items: ListIterable[T]) -> tuple[list[T], str | None]:
        found = list(items)
        try:
            return found, items.resourceVersion
        except NotReadyError:  # an empty list has no chunk: the watch starts from now
            return found, None

    def _info(self, pod: Pod) -> PodInfo:
        return pod_info(pod, self._deployment_of)

    def _pods_listed(self, pods: list[Pod]) -> None:
        self._unresolved.clear()
        self.cache.replace([self._resolved(p) for p in pods if _uid(p)])

    def _pod_event(self, kind: str, pod: Pod) -> None:
        uid = _uid(pod)
        if uid is None:
            return
        if kind == "DELETED":
            self._unresolved.pop(uid, None)
            self.cache.delete(uid)
        else:
            self.cache.put(self._resolved(pod))
        for other in list(self._unresolved.values()):  # the API answers again: retry them
            if _uid(other) != uid:
                self.cache.put(self._resolved(other))

    def _resolved(self, pod: Pod) -> PodInfo:
        uid = _uid(pod)
        assert uid is not None
        self._unresolved.pop(uid, None)
        self._failed_lookup = False
        info = self._info(pod)
        if self._failed_lookup:
            self._unresolved[uid] = pod
        return info

    def _deployment_of(self, namespace: str, replicaset: str) -> str | None:
        known, deployment = self.cache.deployment(namespace, replicaset)
        if known:
            return deployment
        assert self._client is not None
        try:
            rs = self._client.get(ReplicaSet, replicaset, namespace=namespace)
        except ApiError as exc:
            code = exc.status.code if exc.status is not None else None
            if code in (403, 404):  # forbidden stays forbidden: not asked again per event
                self.cache.remember_deployment(namespace, replicaset, None)
                if code == 403:
                    self.metrics.api_errors.labels("replicasets").inc()
                    if not self._forbidden_logged:
                        self._forbidden_logged = True
                        log.warning(
                            "ReplicaSet lookup forbidden: kubernetes.deployment.name stays "
                            "empty; grant get on replicasets (deploy/kubernetes/rbac.yaml).",
                            extra={"namespace": namespace, "replicaset": replicaset},
                        )
                return None
            self._lookup_failed(exc)
            return None
        except Exception as exc:  # unreachable: the pod is retried at the next event
            self._lookup_failed(exc)
            return None
        owners = rs.metadata.ownerReferences if rs.metadata is not None else None
        deployment = next((o.name for o in owners or [] if o.kind == "Deployment"), None)
        self.cache.remember_deployment(namespace, replicaset, deployment)
        return deployment

    def _lookup_failed(self, exc: Exception) -> None:
        self._failed_lookup = True
        self.metrics.api_errors.labels("replicasets").inc()
        log.warning("ReplicaSet lookup failed; retried later.", extra={"error": repr(exc)})

    def _namespaces_listed(self, namespaces: list[Namespace]) -> None:
        labels: dict[str, dict[str, str]] = {}
        for namespace in namespaces:
            meta = namespace.metadata
            if meta is not None and meta.name:
                labels[meta.name] = dict(meta.labels or {})
        self.cache.replace_namespaces(labels)

    def _namespace_event(self, kind: str, namespace: Namespace) -> None:
        meta = namespace.metadata
        if meta is None or not meta.name:
            return
        if kind == "DELETED":
            self.cache.delete_namespace(meta.name)
        else:
            self.cache.set_namespace(meta.name, dict(meta.labels or {}))


def _uid(pod: Pod) -> str | None:
    return pod.metadata.uid if pod.metadata is not None else None
