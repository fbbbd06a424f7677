"""`agent.kubernetes`: where the API is, which node's pods to watch, what to copy onto records."""

from __future__ import annotations

import os

from pydantic import Field, model_validator

from logship.core.schema import ConfigPath, StrictModel
from logship.core.units import Duration


class KubernetesSettings(StrictModel):
    """The `agent.kubernetes:` section (keys fixed by issue 18; tools rely on them)."""

    kubeconfig: ConfigPath | None = Field(
        None, json_schema_extra={"expected": "a kubeconfig file path, or absent for in-cluster"}
    )
    """Absent: the in-cluster service account (token, CA, KUBERNETES_SERVICE_HOST)."""
    node_name: str | None = Field(
        default_factory=lambda: os.environ.get("NODE_NAME") or None, min_length=1
    )
    """The node whose pods are watched; default: the NODE_NAME environment variable."""
    labels: bool = True
    """Copy pod labels to `kubernetes.labels.*`."""
    annotations: list[str] = Field(
        default=[], json_schema_extra={"expected": "a list of annotation names"}
    )
    """Which pod annotations to copy to `kubernetes.annotations.*` (default none)."""
    namespace_labels: bool = True
    """Copy the namespace's labels to `kubernetes.namespace_labels.*` (watches namespaces)."""
    deleted_pod_ttl: Duration = Field(300.0, ge=0)
    """How long a deleted pod's metadata is kept for lines still unread."""
    metadata_wait: Duration = Field(2.0, ge=0)
    """How long a new container file waits for its pod to reach the cache before its lines ship
    with the metadata of its path (and tag `kubernetes_metadata_missing`)."""

    @model_validator(mode="after")
    def _node_known(self) -> KubernetesSettings:
        if self.node_name is None:
            raise ValueError(
                "node_name: expected the name of the node this agent runs on; set it, or set "
                "the NODE_NAME environment variable (in a DaemonSet, from the downward API: "
                "fieldRef spec.nodeName)"
            )
        return self

    @property
    def node(self) -> str:
        """The node name (validated: never empty)."""
        assert self.node_name is not None
        return self.node_name
