"""The Kubernetes metadata metrics (docs/metrics.md, docs/kubernetes.md), in the agent's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class KubeMetrics:
    """Cache size, watch restarts, API errors, lines without metadata, annotation errors."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cached_pods = Gauge(
            "logship_kubernetes_cached_pods",
            "Pods in the metadata cache (this node's, deleted ones within deleted_pod_ttl).",
            registry=registry,
        )
        self.watch_restarts = Counter(
            "logship_kubernetes_watch_restarts",
            "Watches started again: after an error, a dropped connection, or a re-list after "
            "410 Gone.",
            ["resource", "reason"],
            registry=registry,
        )
        self.api_errors = Counter(
            "logship_kubernetes_api_errors",
            "Failed requests to the Kubernetes API (unreachable, HTTP errors).",
            ["resource"],
            registry=registry,
        )
        self.lines_without_metadata = Counter(
            "logship_kubernetes_lines_without_metadata",
            "Container lines shipped with only the metadata of their path (pod not in the "
            "cache within metadata_wait), tagged kubernetes_metadata_missing.",
            registry=registry,
        )
        self.annotation_errors = Counter(
            "logship_kubernetes_annotation_errors",
            "logship.io/* annotations naming an unknown rule or preset, or an invalid value "
            "(the input's defaults apply).",
            ["namespace", "pod", "annotation"],
            registry=registry,
        )
