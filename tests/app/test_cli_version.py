"""`logship --version` and `logship version`: the same line, exit 0."""

from __future__ import annotations

import pytest

from logship import __version__
from logship.app.cli import main


def test_version_flag_prints_the_same_line_as_the_version_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["version"]) == 0
    command = capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    flag = capsys.readouterr().out
    assert flag == command == f"logship {__version__}\n"
