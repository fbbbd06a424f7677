"""Discovery: which files an input's globs match now, and which folders to watch for new ones."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable

_MAGIC = ("*", "?", "[")


class FileFinder:
    """Matches include globs (with `**`) minus exclude globs; only regular files (symlinks followed).

    An exclude pattern without a `/` is matched against the file name (`*.gz`), one with a `/`
    against the whole path.
    """

    def __init__(self, include: Iterable[str], exclude: Iterable[str] = ()) -> None:
        self.include = list(include)
        self.exclude = list(exclude)
        self._name_excludes = [p for p in self.exclude if "/" not in p]
        self._path_excludes = [p for p in self.exclude if "/" in p]

    def excluded(self, path: str) -> bool:
        """True if an exclude pattern matches this path."""
        name = os.path.basename(path)
        return any(fnmatch.fnmatchcase(name, p) for p in self._name_excludes) or any(
            fnmatch.fnmatchcase(path, p) for p in self._path_excludes
        )

    def scan(self) -> list[str]:
        """Paths of the regular files matched now, sorted, each once."""
        found: set[str] = set()
        for pattern in self.include:
            for path in glob.iglob(pattern, recursive=True):
                if path not in found and not self.excluded(path) and os.path.isfile(path):
                    found.add(path)
        return sorted(found)

    def watch_roots(self) -> list[tuple[str, bool]]:
        """(folder, recursive) pairs to watch: the fixed part of each glob's folder."""
        roots: dict[str, bool] = {}
        for pattern in self.include:
            parts = pattern.split(os.sep)
            fixed: list[str] = []
            for part in parts[:-1]:
                if any(ch in part for ch in _MAGIC):
                    break
                fixed.append(part)
            recursive = len(fixed) < len(parts) - 1
            root = os.sep.join(fixed) or os.sep
            roots[root] = roots.get(root, False) or recursive
        return sorted(roots.items())
