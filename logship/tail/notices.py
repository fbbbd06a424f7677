"""What the tailer says once: files it cannot or will not read, each logged once and counted.

A path is warned about again only after its trouble went away and came back (an input with no
matching file, a symlink out of the input's folders, a file that cannot be opened).
"""

from __future__ import annotations

import logging
from collections.abc import Set

from logship.core.metrics import Metrics
from logship.tail.files import InputRuntime

log = logging.getLogger("logship.tail.tailer")  # the tailer's messages, under its name


class Notices:
    """The tailer's warn-once memory and the counters that go with it."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._failed_paths: dict[str, str] = {}  # path -> error, to log each failure once
        self._warned_empty: set[str] = set()
        self._warned_links: dict[str, set[str]] = {}  # input -> links skipped by its last scan

    def matched(self, inp: InputRuntime, paths: list[str]) -> None:
        """After a scan of `inp`: warns once while none of its globs matches a file."""
        if not paths and inp.name not in self._warned_empty:
            self._warned_empty.add(inp.name)
            log.warning(
                "No file matches the input's paths yet; watching for them.",
                extra={"input": inp.name, "paths": inp.settings.paths},
            )

    def skipped_links(self, inp: InputRuntime) -> None:
        """Warns once about each link the scan did not follow (again if it goes and comes back)."""
        outside = inp.finder.outside_links
        warned = self._warned_links.get(inp.name, set())
        for path, target in outside.items():
            if path not in warned:
                self.refused_link(inp, path, target)
        self._warned_links[inp.name] = set(outside)

    def refused_link(self, inp: InputRuntime, path: str, target: str) -> None:
        """A symlink leading out of the input's folders: counted and logged."""
        self.metrics.symlinks_skipped.labels(inp.name).inc()
        log.warning(
            "Not following a symlink out of the input's folders; list the target's folder in "
            "follow_symlinks to read it.",
            extra={"input": inp.name, "path": path, "target": target},
        )

    def open_failed(self, inp: InputRuntime, path: str, exc: OSError) -> None:
        """A file that cannot be opened: counted and logged once per distinct error."""
        message = exc.strerror or str(exc)
        if self._failed_paths.get(path) != message:
            self._failed_paths[path] = message
            self.metrics.file_errors.labels(inp.name).inc()
            log.warning(
                "Cannot open file; will retry at the next scan.",
                extra={"input": inp.name, "path": path, "error": message},
            )

    def opened(self, path: str) -> None:
        """`path` opened: a later failure is news again."""
        self._failed_paths.pop(path, None)

    def keep_inputs(self, names: Set[str]) -> None:
        """After a reload: an input that is gone and comes back is warned about again."""
        self._warned_empty &= names
