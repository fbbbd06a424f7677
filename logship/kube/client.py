"""The API client (lightkube): from a kubeconfig file, or in-cluster from the service account."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
from lightkube import Client, KubeConfig

log = logging.getLogger(__name__)
# The HTTP library logs every request at INFO: a watch is one request per event stream, but a
# ReplicaSet lookup or a re-list is not news; failures are logged by logship.kube.watch.
logging.getLogger("httpx2").setLevel(logging.WARNING)

REQUEST_TIMEOUT = 10.0
"""Seconds for a list or get; a watch's stream has no read timeout (the server ends it)."""


def load_config(kubeconfig: str | None) -> KubeConfig:
    """The kubeconfig file, or the in-cluster service account when None; raises (lightkube's
    ConfigError, OSError, a YAML error) when it cannot be loaded. Contacts nothing."""
    config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_service_account()
    config.get()  # its current context must resolve
    return config


def make_client(kubeconfig: str | None) -> Client:
    """A client of the API server (see `load_config` for what it raises)."""
    config = load_config(kubeconfig)
    client = Client(config, timeout=httpx2.Timeout(REQUEST_TIMEOUT), trust_env=False)
    _ask_for_bookmarks(client)
    return client


def _ask_for_bookmarks(client: Client) -> None:
    """Watches ask for BOOKMARK events (`allowWatchBookmarks=true`): the API server then sends
    the current resourceVersion now and then, so a watch resumed after a quiet spell does not
    start from a version too old (410 Gone, then a whole re-list).

    lightkube has no parameter for it; its HTTP client takes a request hook. When a release
    moves that client, watches go on without bookmarks (a stale version still re-lists)."""

    def hook(request: Any) -> None:
        if request.url.params.get("watch") == "true":
            request.url = request.url.copy_add_param("allowWatchBookmarks", "true")

    try:
        http = client._client._client
        hooks = dict(http.event_hooks)
    except AttributeError:
        log.warning("Watch bookmarks not requested: the client library's HTTP client moved.")
        return
    hooks["request"] = [*hooks.get("request", []), hook]
    http.event_hooks = hooks
