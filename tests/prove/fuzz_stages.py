"""Coverage-guided fuzzing of the line stages with atheris (libFuzzer), beside the hypothesis tests.

    pip install -e '.[fuzz]'                    # atheris
    python -m tests.prove.fuzz_stages framing -runs=200000
    python -m tests.prove.fuzz_stages container -max_total_time=600
    python -m tests.prove.fuzz_stages multiline -max_total_time=600

Each target decodes the fuzzer's bytes into an input and read splits, runs the stages and checks
the same invariants as the hypothesis tests (tests/prove/stage_model.py); a failed check is a
crash that libFuzzer reports with the input that caused it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    from logship.tail.container import ContainerDecoder  # noqa: F401 - instrumented for coverage
    from logship.tail.framing import LineFramer  # noqa: F401
    from logship.tail.multiline import MultilineAssembler  # noqa: F401
    from logship.tail.stages import LineStages
    from tests.prove.stage_model import (
        ContainerEntry,
        check_container,
        check_framing,
        pieces,
        run_stages,
        settings,
    )


def framing(data: bytes) -> None:
    """Any bytes, split anywhere, frame like the model; every byte accounted for."""
    fdp = atheris.FuzzedDataProvider(data)
    limit = fdp.ConsumeIntInRange(64, 200)
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 6))]
    check_framing(fdp.ConsumeBytes(fdp.remaining_bytes()), cuts, limit)


def container(data: bytes) -> None:
    """CRI entries split anywhere (inside characters too) and raw lines: one intact event each."""
    fdp = atheris.FuzzedDataProvider(data)
    limit = fdp.ConsumeIntInRange(128, 256)
    entries = []
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 60)).replace(b"\n", b" ")
        if not body:
            break
        if fdp.ConsumeBool():
            entries.append(ContainerEntry("raw", (body.lstrip(b"{"),)))
            continue
        cut = fdp.ConsumeIntInRange(0, len(body))
        parts = (body[:cut], body[cut:]) if 0 < cut < len(body) else (body,)
        entries.append(ContainerEntry("cri", parts))
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    check_container(entries, "cri", cuts, limit)


def multiline(data: bytes) -> None:
    """Events are the lines joined in order, whatever the reads; none exceeds max_lines."""
    fdp = atheris.FuzzedDataProvider(data)
    preset = fdp.PickValueInList(
        ["java_stacktrace", "python_traceback", "indented_continuation", "java_bracket"]
    )
    max_lines = fdp.ConsumeIntInRange(2, 6)
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    raw = fdp.ConsumeBytes(fdp.remaining_bytes())
    ml = {"preset": preset, "max_lines": max_lines, "max_bytes": 256}
    framed = run_stages(LineStages(0, settings(128)), [raw])
    events = run_stages(LineStages(0, settings(128, multiline=ml)), pieces(raw, cuts))
    if "\n".join(events.texts) != "\n".join(framed.texts):
        raise AssertionError("multiline events are not the lines joined in order")
    if any(text.count("\n") >= max_lines for text in events.texts):
        raise AssertionError("an event holds more than max_lines lines")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "framing": framing,
    "container": container,
    "multiline": multiline,
}


def main() -> None:
    """`python -m tests.prove.fuzz_stages TARGET [libFuzzer options]`."""
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.prove.fuzz_stages {{{','.join(TARGETS)}}} [-runs=N]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
