from __future__ import annotations

import os
from pathlib import Path

from logship.tail.discovery import FileFinder


def make(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")


def test_globs_match_files_minus_excludes(tmp_path: Path) -> None:
    make(tmp_path, "access.log", "access.log.1", "access.log.2.gz", "error.log")
    finder = FileFinder([str(tmp_path / "access.log*")], ["*.gz"])
    assert finder.scan() == [str(tmp_path / "access.log"), str(tmp_path / "access.log.1")]


def test_double_star_matches_nested_folders(tmp_path: Path) -> None:
    make(tmp_path, "a/app.log", "a/b/c/app.log", "a/b/other.txt")
    finder = FileFinder([str(tmp_path / "**" / "*.log")])
    assert finder.scan() == [str(tmp_path / "a/app.log"), str(tmp_path / "a/b/c/app.log")]


def test_path_excludes_match_the_whole_path(tmp_path: Path) -> None:
    make(tmp_path, "keep/app.log", "skip/app.log")
    finder = FileFinder([str(tmp_path / "*" / "app.log")], [str(tmp_path / "skip" / "*")])
    assert finder.scan() == [str(tmp_path / "keep/app.log")]


def test_folders_and_dangling_links_are_not_files(tmp_path: Path) -> None:
    (tmp_path / "dir.log").mkdir()
    os.symlink(tmp_path / "missing", tmp_path / "dangling.log")
    make(tmp_path, "target.txt")
    os.symlink(tmp_path / "target.txt", tmp_path / "link.log")
    assert FileFinder([str(tmp_path / "*.log")]).scan() == [str(tmp_path / "link.log")]


def test_watch_roots_are_the_fixed_folders_of_each_glob(tmp_path: Path) -> None:
    finder = FileFinder(["/var/log/nginx/access.log*", "/var/log/pods/*/*/*.log", "/srv/**/x.log"])
    assert finder.watch_roots() == [
        ("/srv", True),
        ("/var/log/nginx", False),
        ("/var/log/pods", True),
    ]
