"""Discovery: which files an input's globs match now, and which folders to watch for new ones."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Sequence

_MAGIC = ("*", "?", "[")


class FileFinder:
    """Matches include globs (with `**`) minus exclude globs; only regular files.

    An exclude pattern without a `/` is matched against the file name (`*.gz`), one with a `/`
    against the whole path.

    Symlinks (a linked file, or a linked folder on the way to it) are followed only as far as
    `follow_symlinks` allows: with False, only when the file they lead to lies inside the
    folders the input's globs cover (the fixed folder part of each glob, and everything below
    it): a link there names a file the input reads anyway, while a link out of them could make
    the agent ship any file it can read (`app.log -> /etc/shadow`). A list of folders allows
    targets inside those folders too (`/var/log/containers/*.log` links into `/var/log/pods`);
    True follows every link. Links skipped by the last scan are in `outside_links`.
    """

    def __init__(
        self,
        include: Iterable[str],
        exclude: Iterable[str] = (),
        follow_symlinks: bool | Sequence[str | os.PathLike[str]] = False,
    ) -> None:
        self.include = list(include)
        self.exclude = list(exclude)
        self._name_excludes = [p for p in self.exclude if "/" not in p]
        self._path_excludes = [p for p in self.exclude if "/" in p]
        self._follow_all = follow_symlinks is True
        self._also_inside = (
            [] if isinstance(follow_symlinks, bool) else [os.fspath(f) for f in follow_symlinks]
        )
        self.outside_links: dict[str, str] = {}
        """Matched paths the last scan left out: path -> the file outside the folders it leads to."""

    def excluded(self, path: str) -> bool:
        """True if an exclude pattern matches this path."""
        name = os.path.basename(path)
        return any(fnmatch.fnmatchcase(name, p) for p in self._name_excludes) or any(
            fnmatch.fnmatchcase(path, p) for p in self._path_excludes
        )

    def scan(self) -> list[str]:
        """Paths of the regular files matched now, sorted, each once."""
        found: set[str] = set()
        outside: dict[str, str] = {}
        allowed = self.allowed_folders()
        real_dirs: dict[str, str] = {}
        for pattern in self.include:
            for path in glob.iglob(pattern, recursive=True):
                if path in found or path in outside:
                    continue
                if self.excluded(path) or not os.path.isfile(path):
                    continue
                if allowed is not None:
                    real = _real_path(path, real_dirs)
                    if not real.startswith(allowed):
                        outside[path] = real
                        continue
                found.add(path)
        self.outside_links = outside
        return sorted(found)

    def allowed_folders(self) -> tuple[str, ...] | None:
        """Real folders (each ending in a separator) files may lie in; None when any may."""
        if self._follow_all:
            return None
        folders = [root for root, _ in self.watch_roots()] + self._also_inside
        return tuple(_as_prefix(os.path.realpath(folder)) for folder in folders)

    def opened_inside(self, fd: int, path: str) -> bool:
        """True if the file open on `fd` (opened from `path`) lies where `follow_symlinks` allows.

        Checked on the open descriptor, so a link swapped between the scan and the open cannot
        lead the agent out of its folders.
        """
        allowed = self.allowed_folders()
        if allowed is None:
            return True
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # no /proc: the path as it resolves now
            real = os.path.realpath(path)
        return real.startswith(allowed)

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


def _as_prefix(folder: str) -> str:
    return folder if folder.endswith(os.sep) else folder + os.sep


def _real_path(path: str, real_dirs: dict[str, str]) -> str:
    """The path with every symlink resolved; folders are resolved once per scan."""
    if os.path.islink(path):
        return os.path.realpath(path)
    parent, name = os.path.split(path)
    real_parent = real_dirs.get(parent)
    if real_parent is None:
        real_parent = real_dirs[parent] = os.path.realpath(parent or ".")
    return os.path.join(real_parent, name)
