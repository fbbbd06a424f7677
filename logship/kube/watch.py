"""One resource kind kept current: list, then watch from the list's resourceVersion.

- every event's (and BOOKMARK's) resourceVersion is kept, so a watch that ends or drops resumes
  where it was, without a re-list;
- `410 Gone` (the version is older than the API server keeps): list again, which replaces the
  cache's content (no duplicates: pods are keyed by uid);
- any other failure (unreachable, 5xx, a cut stream): counted, reported to the health check,
  and retried with exponential backoff and jitter (BACKOFF_MIN doubling to BACKOFF_MAX).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

import httpx2
from lightkube import ApiError

from logship.kube.metrics import KubeMetrics
from logship.kube.state import ApiState

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
WATCH_TIMEOUT = 300
"""Seconds the API server keeps one watch request open (`timeoutSeconds`); the client library
then watches again from the last version by itself."""


class _Meta(Protocol):
    @property
    def resourceVersion(self) -> str | None: ...


class _Object(Protocol):
    @property
    def metadata(self) -> _Meta | None: ...


T = TypeVar("T", bound=_Object)


def status_code(exc: httpx2.HTTPError) -> int | None:
    """The HTTP status of an API error (from a response, or from a watch's ERROR event)."""
    if isinstance(exc, ApiError) and exc.status is not None and exc.status.code:
        return int(exc.status.code)
    if isinstance(exc, httpx2.HTTPStatusError):
        return exc.response.status_code
    return None


class ResourceWatch(threading.Thread, Generic[T]):
    """Lists and watches one resource kind until `stop`, feeding what it sees to callbacks."""

    def __init__(
        self,
        resource: str,
        list_all: Callable[[], tuple[list[T], str | None]],
        watch_from: Callable[[str | None], Iterator[tuple[str, T]]],
        on_list: Callable[[list[T]], None],
        on_event: Callable[[str, T], None],
        state: ApiState,
        metrics: KubeMetrics,
    ) -> None:
        super().__init__(name=f"kube-watch-{resource}", daemon=True)
        self.resource = resource
        self.list_all = list_all
        self.watch_from = watch_from
        self.on_list = on_list
        self.on_event = on_event
        self.state = state
        self.metrics = metrics
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ends the loop (a watch blocked on its stream ends when the client is closed)."""
        self._stop.set()

    def run(self) -> None:
        version: str | None = None
        delay = BACKOFF_MIN
        while not self._stop.is_set():
            try:
                if version is None:
                    items, version = self.list_all()
                    self.on_list(items)
                    self.state.ok(self.resource)
                    delay = BACKOFF_MIN
                for kind, obj in self.watch_from(version):
                    if self._stop.is_set():
                        return
                    if obj.metadata is not None and obj.metadata.resourceVersion:
                        version = obj.metadata.resourceVersion
                    if kind != "BOOKMARK":
                        self.on_event(kind, obj)
                    self.state.ok(self.resource)
                    delay = BACKOFF_MIN
                reason = "ended"
            except httpx2.HTTPError as exc:
                if self._stop.is_set():
                    return
                code = status_code(exc)
                if code == 410:
                    version = None  # too old: list again, at once
                    self.metrics.watch_restarts.labels(self.resource, "gone").inc()
                    log.info("Watch expired (410 Gone); listing again.", extra=self._extra())
                    continue
                reason = "error"
                self.metrics.api_errors.labels(self.resource).inc()
                text = f"HTTP {code}" if code else type(exc).__name__
                self.state.failed(self.resource, f"{text}: {exc}")
                log.warning(
                    "Kubernetes API request failed; retrying.",
                    extra={**self._extra(), "error": f"{text}: {exc}", "retry_in_s": delay},
                )
            except Exception as exc:  # a bug or an undecodable object: never end the thread
                if self._stop.is_set():
                    return
                reason = "error"
                self.metrics.api_errors.labels(self.resource).inc()
                self.state.failed(self.resource, repr(exc))
                log.exception("Kubernetes watch failed; retrying.", extra=self._extra())
            self.metrics.watch_restarts.labels(self.resource, reason).inc()
            self._stop.wait(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)

    def _extra(self) -> dict[str, str]:
        return {"resource": self.resource}
