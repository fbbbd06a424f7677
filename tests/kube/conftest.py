"""Fixtures of the Kubernetes metadata tests: the fake API server, CRI files laid out as the
kubelet does under a temporary var/log/pods, and an agent pipeline run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.app.config_file import load_config
from logship.app.pipeline import Pipeline
from logship.kube import watch
from tests.doubles.kube_api import KubeApiServer
from tests.harness import config_doc, read_ndjson, write_config

CRI_TIME = "2026-12-05T10:00:00.123456789Z"


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    """The fake API server on 127.0.0.1 (retries after failures come within 0.2 s)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(watch, "BACKOFF_MIN", 0.05)
        mp.setattr(watch, "BACKOFF_MAX", 0.2)
        server = KubeApiServer().start()
        yield server
        server.stop()


class Node:
    """A node's log folder and an agent tailing it with `agent.kubernetes` set."""

    def __init__(self, tmp_path: Path, api: KubeApiServer) -> None:
        self.tmp_path = tmp_path
        self.api = api
        self.pods_dir = tmp_path / "var" / "log" / "pods"
        self.out = tmp_path / "out" / "logs.ndjson"
        self.pipeline: Pipeline | None = None

    def write(self, namespace: str, pod: str, uid: str, container: str, *lines: str) -> Path:
        """Appends CRI lines to the container's log file, as the kubelet lays it out."""
        path = self.pods_dir / f"{namespace}_{pod}_{uid}" / container / "0.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            for line in lines:
                f.write(f"{CRI_TIME} stdout F {line}\n")
        return path

    def start(self, kubernetes: dict[str, Any] | None = None, **sections: Any) -> Pipeline:
        """Starts the agent in-process; `kubernetes` is merged over the defaults."""
        settings = {
            "kubeconfig": str(self.api.kubeconfig(self.tmp_path / "kubeconfig")),
            "node_name": "node-1",
            "metadata_wait": "3s",
            **(kubernetes or {}),
        }
        doc = config_doc(
            self.tmp_path,
            agent={"kubernetes": settings, "http": {"address": None}},
            input={
                "paths": [str(self.pods_dir / "*" / "*" / "*.log")],
                "container": "cri",
                "scan_interval": "100ms",
            },
            **sections,
        )
        config = load_config(write_config(self.tmp_path / "logship.yaml", doc))
        self.pipeline = Pipeline(config)
        self.pipeline.open()
        self.pipeline.start()
        return self.pipeline

    def records(self) -> list[dict[str, Any]]:
        """Everything shipped so far."""
        return read_ndjson(self.out)

    def stop(self) -> None:
        """Stops the agent if it runs."""
        if self.pipeline is not None:
            self.pipeline.stop(10)
            self.pipeline = None


@pytest.fixture
def node(tmp_path: Path, api: KubeApiServer) -> Iterator[Node]:
    """A node's var/log/pods and the agent watching the fake API (stopped at the end)."""
    n = Node(tmp_path, api)
    yield n
    n.stop()
