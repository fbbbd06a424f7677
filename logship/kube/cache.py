"""The pod cache: this node's pods by uid (and by namespace/name for paths without a uid), the
namespaces' labels, and the Deployment of each ReplicaSet seen (bounded).

Written by the watch threads, read by the tailer: every stored value is immutable and replaced
whole, so a reader sees the old pod or the new one, never half of each. A deleted pod (watch
event, or missing from a re-list) stays `deleted_pod_ttl` so lines still unread keep their
metadata.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from logship.kube.objects import ContainerView, PodInfo, container_view

MAX_REPLICASETS = 4096
"""ReplicaSet -> Deployment answers kept (least recently used go first)."""

_NO_LABELS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class _Entry:
    info: PodInfo
    deleted_at: float | None = None


class PodCache:
    """This node's pods, their namespaces' labels and their ReplicaSets' Deployments."""

    def __init__(
        self,
        deleted_pod_ttl: float,
        copy_labels: bool,
        annotations: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deleted_pod_ttl = deleted_pod_ttl
        self.copy_labels = copy_labels
        self.annotations = tuple(annotations)
        self.clock = clock
        self._pods: dict[str, _Entry] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._namespaces: dict[str, dict[str, str]] = {}
        self._replicasets: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._lock = threading.Lock()  # between the watch threads; readers take no lock

    # --- the tailer's side ----------------------------------------------------------------

    def lookup(
        self, namespace: str, pod: str, uid: str | None, container: str
    ) -> ContainerView | None:
        """The container's view, or None while the pod is unknown (or deleted past its TTL)."""
        if uid is None:
            uid = self._by_name.get((namespace, pod))
            if uid is None:
                return None
        entry = self._pods.get(uid)
        if entry is None:
            return None
        if entry.deleted_at is not None and self.clock() - entry.deleted_at > self.deleted_pod_ttl:
            return None
        info = entry.info
        labels = self._namespaces.get(info.namespace, _NO_LABELS)
        key = (container, id(labels))
        view = info.views.get(key)
        if view is None:
            view = container_view(info, container, labels, self.copy_labels, self.annotations)
            if len(info.views) > 64:  # namespace labels changed many times: start over
                info.views.clear()
            info.views[key] = view
        return view

    def deleted(self, uid: str) -> bool:
        """True when the pod was deleted and is kept for its TTL."""
        entry = self._pods.get(uid)
        return entry is not None and entry.deleted_at is not None

    def __len__(self) -> int:
        return len(self._pods)

    # --- the watch threads' side ----------------------------------------------------------

    def put(self, info: PodInfo) -> None:
        """A pod added or changed."""
        with self._lock:
            self._pods[info.uid] = _Entry(info)
            self._by_name[(info.namespace, info.name)] = info.uid

    def delete(self, uid: str) -> None:
        """A pod deleted: kept `deleted_pod_ttl` from now."""
        with self._lock:
            entry = self._pods.get(uid)
            if entry is not None and entry.deleted_at is None:
                self._pods[uid] = _Entry(entry.info, self.clock())
        self.expire()

    def replace(self, pods: Iterable[PodInfo]) -> None:
        """A full list: pods not in it were deleted while the watch was away."""
        fresh = {p.uid: p for p in pods}
        for uid in [u for u in self._pods if u not in fresh]:
            self.delete(uid)
        for info in fresh.values():
            self.put(info)

    def expire(self) -> None:
        """Forgets deleted pods older than their TTL."""
        now = self.clock()
        with self._lock:
            for uid, entry in list(self._pods.items()):
                if entry.deleted_at is not None and now - entry.deleted_at > self.deleted_pod_ttl:
                    del self._pods[uid]
                    key = (entry.info.namespace, entry.info.name)
                    if self._by_name.get(key) == uid:
                        del self._by_name[key]

    def set_namespace(self, name: str, labels: dict[str, str]) -> None:
        """A namespace's labels (added or changed)."""
        if self._namespaces.get(name) != labels:
            self._namespaces[name] = dict(labels)

    def delete_namespace(self, name: str) -> None:
        """A namespace deleted (its pods keep what they had until they go)."""
        self._namespaces.pop(name, None)

    def replace_namespaces(self, labels: dict[str, dict[str, str]]) -> None:
        """A full list of namespaces."""
        for name in [n for n in self._namespaces if n not in labels]:
            self.delete_namespace(name)
        for name, value in labels.items():
            self.set_namespace(name, value)

    def deployment(self, namespace: str, replicaset: str) -> tuple[bool, str | None]:
        """(known?, the Deployment) of a ReplicaSet looked up before."""
        key = (namespace, replicaset)
        if key not in self._replicasets:
            return False, None
        self._replicasets.move_to_end(key)
        return True, self._replicasets[key]

    def remember_deployment(self, namespace: str, replicaset: str, deployment: str | None) -> None:
        """Notes a ReplicaSet's Deployment (None: it has none); the oldest answers go first."""
        self._replicasets[(namespace, replicaset)] = deployment
        while len(self._replicasets) > MAX_REPLICASETS:
            self._replicasets.popitem(last=False)
