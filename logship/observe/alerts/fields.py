"""Which fields the records of an input can have, as far as its parser rules tell.

Regex and grok rules name every field they produce (captures after rename / remove / copy,
`add`, the level with its syslog details); json and logfmt rules may produce anything, and so
may an input with such a rule: then every field is possible. Every record also has the fields
the agent sets (`@timestamp`, `message`, `log.file.*`, `log.offset`, `host.name`, `tags`, ...),
and container inputs the runtime's and Kubernetes' metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.compiler import compile_rule
from parsers.regex_rule import RegexRule
from parsers.section import ParsersSettings

AGENT_FIELDS = frozenset(
    {
        "@timestamp",
        "message",
        "tags",
        "log.file.path",
        "log.file.device_id",
        "log.file.inode",
        "log.offset",
        "log.flags",
        "host.name",
    }
)
CONTAINER_FIELDS = frozenset({"log.stream"})
CONTAINER_PREFIXES = ("kubernetes.", "container.")
_SYSLOG_LEVEL_FIELDS = (
    "log.syslog.facility.code",
    "log.syslog.severity.code",
    "log.syslog.severity.name",
)


@dataclass
class InputFields:
    """The fields one input's records can have; `anything` when a rule may produce any field."""

    known: set[str] = field(default_factory=set)
    anything: bool = False
    prefixes: tuple[str, ...] = ()
    types: dict[str, set[str]] = field(default_factory=dict)
    """Field -> the types rules convert it to (int, float, bool, string)."""

    def possible(self, dotted: str) -> bool:
        """True when a record of this input can have the field (or an object at that path)."""
        if self.anything or dotted in self.known or dotted.startswith(self.prefixes):
            return True
        below = dotted + "."
        return any(k.startswith(below) for k in self.known) or any(
            p.startswith(below) for p in self.prefixes
        )


def rule_fields(rule: RegexRule) -> tuple[set[str], dict[str, str]]:
    """The fields a compiled regex / grok rule sets, and the types it converts them to."""
    s = rule.settings
    captured = rule.pattern.field_names
    ts = s.timestamp.field[0] if s.timestamp else None
    message = s.message[0] if s.message else None
    syslog = bool(s.level and s.level.syslog_priority)
    if s.level is not None:
        level: str | None = s.level.field[0]
    else:
        level = next((f for f in ("log.level", "level") if f in captured), None)
    out: set[str] = {"log.level"} if level is not None else set()
    if syslog:
        out.update(_SYSLOG_LEVEL_FIELDS)
    types: dict[str, str] = {}
    for name in [*captured, *s.copy_fields.values()]:
        if name in (ts, message) or name in s.remove or (name == level and not syslog):
            continue
        target = s.rename.get(name, name)
        out.add(target)
        kind = s.types.get(name)
        if kind is not None:
            types[target] = kind
    out.update(s.add)
    return out, types


def input_fields(
    rule_names: list[str], parsers: ParsersSettings, container: bool = False
) -> InputFields:
    """What the records of an input with these parser rules can hold."""
    result = InputFields(known=set(AGENT_FIELDS))
    if container:
        result.known |= CONTAINER_FIELDS
        result.prefixes = CONTAINER_PREFIXES
    for name in rule_names:
        entry = parsers.entry(name)
        if entry is None:
            continue  # reported by the config's own check
        if entry.settings.kind in ("json", "logfmt"):
            result.anything = True
            continue
        try:
            compiled = compile_rule(entry.settings, parsers.library, parsers.timezone)
        except ValueError:
            result.anything = True  # reported where the rule is checked
            continue
        assert isinstance(compiled, RegexRule)
        known, types = rule_fields(compiled)
        result.known |= known
        for name_, kind in types.items():
            result.types.setdefault(name_, set()).add(kind)
    return result
