"""Warnings for field names that clash with ECS objects: a user rule (or an input's `fields`)
writing `user_agent` as a string where ECS, and Elasticsearch's `logs-*-*` mappings, have the
object `user_agent.*`. Such a record is rejected by a data stream whose mapping has the object
(as soon as any record, Filebeat's or ours, wrote `user_agent.original`), or makes the object
unusable for everyone else. `logship check` prints these warnings; `logship run` logs them.

Only what a rule's settings name is known here: the groups a regex or grok pattern captures,
`add`, `rename`, `copy` and `derive` targets. JSON and logfmt rules take their names from the
lines, which no check sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from parsers.compiler import compile_rule
from parsers.rule import RuleError

if TYPE_CHECKING:
    from logship.app.config import Config
    from parsers.config import RuleSettings
    from parsers.grok import GrokLibrary

ECS_OBJECTS: dict[str, str] = {
    "agent": "agent.name (set by logship)",
    "client": "client.address or client.ip",
    "cloud": "cloud.provider",
    "container": "container.id or container.name",
    "data_stream": "nothing: the Elasticsearch sink sets data_stream.*",
    "destination": "destination.address or destination.ip",
    "device": "device.id",
    "dll": "dll.name",
    "dns": "dns.question.name",
    "ecs": "nothing: logship sets ecs.version",
    "email": "email.subject",
    "error": "error.message",
    "event": "event.action or event.original",
    "faas": "faas.name",
    "file": "file.path",
    "group": "group.name",
    "host": "host.hostname",
    "http": "http.request.method, http.response.status_code, ...",
    "labels": "labels.<name>",
    "log": "log.level or log.logger",
    "network": "network.protocol",
    "observer": "observer.hostname",
    "orchestrator": "orchestrator.type",
    "organization": "organization.name",
    "package": "package.name",
    "process": "process.name",
    "registry": "registry.path",
    "related": "related.ip",
    "rule": "rule.name",
    "server": "server.address or server.ip",
    "service": "service.name",
    "source": "source.address or source.ip",
    "span": "span.id",
    "threat": "threat.indicator.type",
    "tls": "tls.version",
    "trace": "trace.id",
    "transaction": "transaction.id",
    "url": "url.original",
    "user": "user.name",
    "user_agent": "user_agent.original",
    "vulnerability": "vulnerability.id",
}
"""ECS's top-level field sets (objects), with the field a scalar most likely meant."""


def ecs_warnings(config: Config) -> list[str]:
    """A warning per scalar field named like an ECS object, in your rules and inputs' fields."""
    parsers = config.parsers
    found: list[str] = []
    for name in parsers.rule_names():
        entry = parsers.entry(name)
        if entry is None or entry.builtin:
            continue
        for field in sorted(set(_scalar_objects(rule_outputs(entry.settings, parsers.library)))):
            found.append(
                f"{entry.origin} (rule {name!r}): field {field!r} is a single value where ECS has "
                f"the object {field}.* (Elasticsearch's logs-*-* mappings refuse one of the two "
                f"in a data stream); name it {ECS_OBJECTS[field]}"
            )
    for i, inp in enumerate(config.inputs):
        for key, value in inp.fields.items():
            if key in ECS_OBJECTS and not isinstance(value, dict):
                found.append(
                    f"inputs[{i}].fields: {key!r} is a single value where ECS has the object "
                    f"{key}.*; name it {ECS_OBJECTS[key]}"
                )
    return found


def rule_outputs(settings: RuleSettings, library: GrokLibrary) -> list[str]:
    """The field names a rule's settings make (captures after rename and remove, add, copy,
    derive); empty for captures of a rule that does not compile (the config check says why)."""
    names: list[str] = []
    try:
        rule: Any = compile_rule(settings, library)
    except RuleError:
        rule = None
    pattern = getattr(rule, "pattern", None)
    captured: Iterable[str] = getattr(pattern, "field_names", []) or []
    removed = set(settings.remove)
    # The timestamp, level and message fields are read into @timestamp, log.level, message.
    if settings.timestamp is not None:
        removed.update(settings.timestamp.field)
    if settings.level is not None:
        removed.update(settings.level.field)
    removed.update(settings.message or [])
    for name in captured:
        target = settings.rename.get(name, name)
        if name not in removed and target not in removed:
            names.append(target)
    names += list(settings.rename.values())
    names += list(settings.add)
    names += list(settings.copy_fields.values())
    names += list(settings.derive)
    return names


def _scalar_objects(names: Iterable[str]) -> Iterator[str]:
    """The names that are exactly an ECS object's name (a dotted name below it is fine)."""
    for name in names:
        if name in ECS_OBJECTS:
            yield name
