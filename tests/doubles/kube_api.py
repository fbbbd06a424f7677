"""A fake Kubernetes API server on 127.0.0.1: pods (list and watch, `fieldSelector=spec.nodeName=`),
namespaces (list and watch), ReplicaSets (get, list), with `410 Gone`, dropped watch connections
and 500s on demand; and the kubeconfig file that points a client at it.

Objects are plain dicts as the API serves them. Every change gets the next resourceVersion and
is an event that open watches stream (one JSON object per line, as the API server does).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.doubles.http_server import KillableHttpServer, TrackedServer


def pod_doc(
    name: str,
    namespace: str,
    uid: str,
    *,
    node: str = "node-1",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    containers: dict[str, str] | None = None,
    ip: str = "10.0.0.1",
) -> dict[str, Any]:
    """A Pod object; `containers` maps container names to images (ids are derived)."""
    containers = containers or {"app": "example/app:1"}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": owner[0],
                "name": owner[1],
                "uid": "o-" + owner[1],
                "controller": True,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "nodeName": node,
            "containers": [{"name": c, "image": image} for c, image in containers.items()],
        },
        "status": {
            "podIP": ip,
            "containerStatuses": [
                {
                    "name": c,
                    "image": image,
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "containerID": "containerd://" + (uid.replace("-", "") + c.encode().hex())[:64],
                }
                for c, image in containers.items()
            ],
        },
    }


class KubeApiServer(KillableHttpServer):
    """The fake API server; its objects and failure switches survive `down()` / `up()`."""

    thread_name = "fake-kube-api"

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()
        self.version = 100
        self.pods: dict[str, dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, kind, type, obj)
        self.oldest = 0
        """Watches from a version below this get `410 Gone`."""
        self.fail = 0
        """The next this many requests answer 500."""
        self.generation = 0  # bumped by `drop_watches`: open watch streams end
        self.requests: list[str] = []
        """`<path>?<query>` of every request, in order."""

    # --- what tests change ------------------------------------------------------------------

    def _bump(self, obj: dict[str, Any]) -> int:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        return self.version

    def put_pod(self, pod: dict[str, Any]) -> None:
        """Adds or changes a pod (ADDED or MODIFIED)."""
        with self.cond:
            uid = pod["metadata"]["uid"]
            kind = "MODIFIED" if uid in self.pods else "ADDED"
            rv = self._bump(pod)
            self.pods[uid] = pod
            self.events.append((rv, "pods", kind, json.loads(json.dumps(pod))))
            self.cond.notify_all()

    def delete_pod(self, uid: str) -> None:
        """Deletes a pod (DELETED)."""
        with self.cond:
            pod = self.pods.pop(uid)
            rv = self._bump(pod)
            self.events.append((rv, "pods", "DELETED", pod))
            self.cond.notify_all()

    def put_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        """Adds or changes a namespace."""
        with self.cond:
            kind = "MODIFIED" if name in self.namespaces else "ADDED"
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            if labels:
                ns["metadata"]["labels"] = labels
            rv = self._bump(ns)
            self.namespaces[name] = ns
            self.events.append((rv, "namespaces", kind, ns))
            self.cond.notify_all()

    def put_replicaset(self, namespace: str, name: str, deployment: str | None) -> None:
        """Adds a ReplicaSet, owned by `deployment` if given."""
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": "rs-" + name}
        if deployment:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment,
                    "uid": "d-" + deployment,
                    "controller": True,
                }
            ]
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": name}}},
        }
        with self.cond:
            self._bump(rs)
            self.replicasets[(namespace, name)] = rs

    def compact(self) -> None:
        """Forgets the event history: a watch from any version seen so far gets 410 Gone."""
        with self.cond:
            self.oldest = self.version + 1
            self.version += 1
            self.generation += 1
            self.cond.notify_all()

    def drop_watches(self) -> None:
        """Ends every open watch stream (the client must watch again)."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()
        if self._server is not None:
            self._server.cut_connections()

    def bookmark(self) -> None:
        """Sends a BOOKMARK event with the current version to the pod watches."""
        with self.cond:
            self.version += 1
            mark = {
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.version)},
            }
            self.events.append((self.version, "pods", "BOOKMARK", mark))
            self.cond.notify_all()

    def count(self, prefix: str) -> int:
        """Requests whose path and query start with `prefix`."""
        return sum(1 for r in list(self.requests) if r.startswith(prefix))

    def make_server(self, address: tuple[str, int]) -> TrackedServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append(f"{url.path}?{url.query}")
                with api.cond:
                    failing = api.fail > 0
                    if failing:
                        api.fail -= 1
                if failing:
                    return self._json(500, _status(500, "InternalError", "injected failure"))
                parts = url.path.strip("/").split("/")
                if url.path == "/api/v1/pods":
                    return self._collection("pods", query)
                if url.path == "/api/v1/namespaces":
                    return self._collection("namespaces", query)
                if url.path == "/apis/apps/v1/replicasets":
                    with api.cond:
                        items = list(api.replicasets.values())
                    return self._json(200, _list("ReplicaSetList", items, api.version))
                if (
                    parts[:3] == ["apis", "apps", "v1"]
                    and len(parts) == 7
                    and parts[5] == "replicasets"
                ):
                    with api.cond:
                        rs = api.replicasets.get((parts[4], parts[6]))
                    if rs is None:
                        return self._json(404, _status(404, "NotFound", "not found"))
                    return self._json(200, rs)
                return self._json(404, _status(404, "NotFound", f"no route {url.path}"))

            def _collection(self, resource: str, query: dict[str, str]) -> None:
                node = query.get("fieldSelector", "").partition("spec.nodeName=")[2] or None
                if query.get("watch") == "true":
                    return self._watch(resource, query, node)
                with api.cond:
                    source = api.pods if resource == "pods" else api.namespaces
                    items = [o for o in source.values() if _on(o, node)]
                    kind = "PodList" if resource == "pods" else "NamespaceList"
                    return self._json(200, _list(kind, items, api.version))

            def _watch(self, resource: str, query: dict[str, str], node: str | None) -> None:
                since = int(query.get("resourceVersion") or 0)
                timeout = float(query.get("timeoutSeconds") or 300)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                deadline = time.monotonic() + timeout
                with api.cond:
                    generation = api.generation
                    if since and since < api.oldest:
                        event = {"type": "ERROR", "object": _status(410, "Expired", "too old")}
                        self._write(event)
                        return
                    if not since:
                        since = api.version
                while True:
                    with api.cond:
                        if api.generation != generation or time.monotonic() >= deadline:
                            return
                        todo = [e for e in api.events if e[0] > since and e[1] == resource]
                        if not todo:
                            api.cond.wait(0.2)
                            continue
                    for rv, _, kind, obj in todo:
                        since = rv
                        wanted = kind == "BOOKMARK" or _on(obj, node)
                        if wanted and not self._write({"type": kind, "object": obj}):
                            return

            def _write(self, event: dict[str, Any]) -> bool:
                try:
                    self.wfile.write(json.dumps(event).encode() + b"\n")
                    self.wfile.flush()
                    return True
                except OSError:
                    return False

            def _json(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return TrackedServer(address, Handler)

    def kubeconfig(self, path: Path) -> Path:
        """Writes a kubeconfig (token auth, plain HTTP) pointing at this server; returns it."""
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.base_url}}],
                    "users": [{"name": "agent", "user": {"token": "test-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "agent"}}],
                    "current-context": "fake",
                }
            )
        )
        return path


def _on(obj: dict[str, Any], node: str | None) -> bool:
    return node is None or obj.get("spec", {}).get("nodeName") == node


def _list(kind: str, items: list[dict[str, Any]], version: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"resourceVersion": str(version)},
        "items": items,
    }


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        "metadata": {},
    }
