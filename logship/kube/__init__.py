"""Kubernetes metadata: pods on this node (list + watch), their namespaces and owners, cached for
the tailer, which asks for a container file's pod through `logship.tail.pod_context.PodSource`.

Imports only `logship.core` (and the client library, lightkube); the agent (`logship.app`)
wires it in. See docs/kubernetes.md.
"""
