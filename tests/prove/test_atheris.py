"""The atheris harnesses run (when atheris is installed: `pip install -e '.[fuzz]'`).

A short bounded run of each target in its own process: libFuzzer exits non-zero on the first
input that breaks an invariant. Longer campaigns are run by hand (tests/prove/fuzz_stages.py).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.harness import REPO


@pytest.mark.slow  # about 13 s each, mostly instrumenting the imports
@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None, reason="atheris is not installed (.[fuzz])"
)
@pytest.mark.parametrize("target", ["framing", "container", "multiline"])
def test_the_atheris_harness_finds_nothing_in_a_short_run(target: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.prove.fuzz_stages", target, "-runs=3000", "-seed=1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 3000 runs" in done.stderr
