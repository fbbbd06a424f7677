"""The per-chunk loop on the tailer thread: every rule's condition of one input, inlined.

Generated once per input from the rules that apply to it (like the derived metrics' loops):
the fields the conditions read are looked up once per record into locals, each condition is
one inline expression over them (`parsers.condition.ConditionCode`, the same code `drop_if`
runs), and a record that matches appends `(rule index, record)` to a list. Records that match
nothing, nearly all of them, cost the field reads and the tests and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from logship.record import LogEntry
from parsers.condition import ConditionCode, ConditionSettings

Hits = list[tuple[int, LogEntry]]
Scan = Callable[[list[LogEntry]], Hits | None]


def generate_scan(conditions: Sequence[ConditionSettings], label: str = "alerts") -> Scan:
    """A function returning the (condition index, record) pairs that hold, or None if none."""
    code = ConditionCode()
    tests = [code.expression(c) for c in conditions]
    body = ["def scan(entries):", "    hits = None", "    for entry in entries:"]
    body += code.reads("        ")
    for index, test in enumerate(tests):
        body += [
            f"        if {test}:",
            "            if hits is None:",
            "                hits = []",
            f"            hits.append(({index}, entry))",
        ]
    body.append("    return hits")
    env = dict(code.env)
    exec(compile("\n".join(body), f"<{label} scan>", "exec"), env)  # noqa: S102 - our own generated code
    scan: Scan = env["scan"]
    return scan
