"""Whether the API answers, per resource kind, as the health check and the tailer see it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ApiState:
    """Per resource kind: listed yet? failing since when, and why?"""

    def __init__(self, resources: list[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._synced = dict.fromkeys(resources, False)
        self._failing: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def ok(self, resource: str) -> None:
        """A request for `resource` succeeded."""
        if self._synced[resource] and resource not in self._failing:
            return  # the common case, once per event: no lock
        with self._lock:
            self._synced[resource] = True
            self._failing.pop(resource, None)

    def failed(self, resource: str, error: str) -> None:
        """A request for `resource` failed."""
        with self._lock:
            since = self._failing.get(resource, (self.clock(), ""))[0]
            self._failing[resource] = (since, error)

    @property
    def reachable(self) -> bool:
        """False while a resource's last request failed."""
        return not self._failing

    def verdict(self) -> tuple[str, str]:
        """(state, detail): `synced`, `syncing` (first list running) or `api_unreachable`."""
        with self._lock:
            if self._failing:
                now = self.clock()
                parts = [
                    f"{r}: failing for {now - since:.0f}s ({error})"
                    for r, (since, error) in sorted(self._failing.items())
                ]
                return "api_unreachable", (
                    "; ".join(parts) + "; container records ship with the metadata of their "
                    "paths until the API answers"
                )
            waiting = [r for r, done in self._synced.items() if not done]
            if waiting:
                return "syncing", f"first list of {', '.join(waiting)} running"
            return "synced", ""
