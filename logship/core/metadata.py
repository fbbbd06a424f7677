"""Per-input metadata settings (`fields`, `tags`, `dataset`, `service` of `InputSettings`) and
their checks; the agent-level switches are `agent.name` and `agent.metadata` (`AgentSettings`).

The values are constants: `parsers.stamp` turns them into one tree per input that the parser
chain merges into every record, so they cost a few dict operations per record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BeforeValidator, Field

from logship.core.schema import StrictModel

# Elasticsearch's rules for a data stream name part (logs-<dataset>-<namespace>).
_DATASET = re.compile(r"^[a-z0-9][a-z0-9._]*$")

# Set by the agent or by a dedicated key: `fields:` must not write them.
_OWNED = {
    "@timestamp": "the event time, set by the parser rules",
    "message": "set by the parser rules",
    "tags": "use the input's `tags:`",
    "log.file": "set by the agent",
    "log.offset": "set by the agent",
    "log.flags": "set by the agent",
    "host.name": "set by the agent (agent.host_name)",
    "event.dataset": "use the input's `dataset:`",
    "service.name": "use the input's `service:`",
    "service.version": "use the input's `service:`",
    "service.environment": "use the input's `service:`",
    "agent": "set by the agent (agent.name, agent.metadata)",
    "ecs": "set by the agent (agent.metadata)",
    "data_stream": "set by the Elasticsearch sink",
}

Scalar = str | int | float | bool


class ServiceSettings(StrictModel):
    """An input's `service:`: ECS `service.*` of the application writing the files."""

    name: str = Field(min_length=1)
    version: str | None = None
    environment: str | None = None


def _tags_list(value: object) -> object:
    if isinstance(value, str):
        raise ValueError(f"expected a list of tags, like [{value}]")
    return value


def _tags_not_empty(value: list[str]) -> list[str]:
    for i, tag in enumerate(value):
        if not tag:
            raise ValueError(f"tags[{i}]: expected a non-empty tag")
    return list(dict.fromkeys(value))  # once each, in order


def check_dataset(value: str) -> str:
    """An input's `dataset`: a valid data stream name part (ValueError saying why not)."""
    if "-" in value:
        raise ValueError(
            f"must not contain '-' (it names the data stream logs-<dataset>-<namespace>, where "
            f"'-' separates the parts); use '.' or '_', like 'nginx.access' (got {value!r})"
        )
    if not _DATASET.match(value) or len(value.encode()) > 100:
        raise ValueError(
            f"expected at most 100 lowercase letters, digits, '.' or '_', starting with a "
            f"letter or digit, like 'nginx.access' (got {value!r})"
        )
    return value


def check_fields(value: dict[str, Any]) -> dict[str, Any]:
    """An input's `fields`, nested by their dotted names; ValueError for a key the agent owns."""
    tree = nest_fields(value)
    for path in _paths(tree):
        for length in range(1, len(path) + 1):
            reason = _OWNED.get(".".join(path[:length]))
            if reason is not None:
                raise ValueError(f"fields: {'.'.join(path)!r} cannot be set here: {reason}")
    return tree


InputFields = Annotated[
    dict[str, Any],
    AfterValidator(check_fields),
    Field(
        json_schema_extra={
            "expected": "a mapping of field names (dotted names nest) to constants, like "
            "{labels.team: payments}"
        }
    ),
]
"""An input's `fields:`: constants merged into every record; a value parsed from the line wins."""

InputTags = Annotated[
    list[str],
    BeforeValidator(_tags_list),
    AfterValidator(_tags_not_empty),
    Field(json_schema_extra={"expected": "a list of tags"}),
]
"""An input's `tags:`: appended to the record's tags (the rule's, `parse_failure`), once each."""

Dataset = Annotated[str, AfterValidator(check_dataset)]
"""An input's `dataset:`: `event.dataset` of every record (over a built-in rule's), which names
the Elasticsearch data stream `logs-<dataset>-<namespace>`."""


def nest_fields(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"labels.team": "a", "x": {"y.z": 1}}` -> `{"labels": {"team": "a"}, "x": {"y": {"z": 1}}}`.

    Raises ValueError naming the field when a name is empty, a value is not a constant (string,
    number, boolean, a list of those, a mapping) or a path is both a value and an object.
    """
    out: dict[str, Any] = {}
    for key, given in flat.items():
        value = given
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise ValueError(f"fields: {key!r} is not a field name")
        parts = key.split(".")
        if isinstance(value, dict):
            value = nest_fields(value)
        elif isinstance(value, list):
            if not all(isinstance(v, Scalar) for v in value):
                raise ValueError(
                    f"fields: {key!r}: expected a list of strings, numbers or booleans"
                )
            value = list(value)
        elif not isinstance(value, Scalar):
            raise ValueError(
                f"fields: {key!r}: expected a string, number, boolean, list or mapping "
                f"(got {value!r})"
            )
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(
                    f"fields: {'.'.join(parts[: i + 1])!r} is both a value and an object"
                )
            node = child
        last = parts[-1]
        current = node.get(last)
        if current is None:
            node[last] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value, key)
        else:
            raise ValueError(f"fields: {key!r} is given twice")
    return out


def _merge_into(target: dict[str, Any], more: dict[str, Any], where: str) -> None:
    for key, value in more.items():
        current = target.get(key)
        if current is None:
            target[key] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value, f"{where}.{key}")
        else:
            raise ValueError(f"fields: '{where}.{key}' is given twice")


def _paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf path of a nested tree."""
    out: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += _paths(value, (*prefix, key))
        else:
            out.append((*prefix, key))
    return out


class _Rule(Protocol):
    @property
    def add(self) -> Mapping[str, Any]: ...


class _Rules(Protocol):
    def rule(self, name: str) -> _Rule: ...


class _Input(Protocol):
    @property
    def dataset(self) -> str | None: ...
    @property
    def parsers(self) -> Sequence[str]: ...


class _Config(Protocol):
    """What `known_datasets` reads of the config (logship.app.config.Config): core imports no
    layer above it."""

    @property
    def inputs(self) -> Sequence[_Input]: ...
    @property
    def parsers(self) -> _Rules: ...


def known_datasets(config: _Config) -> list[str]:
    """The `event.dataset` values the inputs' records can carry: each input's `dataset`, else
    what its rules add (for `logship setup elasticsearch` of a sink routing by dataset)."""
    found: list[str] = []
    for inp in config.inputs:
        if inp.dataset is not None:
            found.append(inp.dataset)
            continue
        for name in inp.parsers:
            value = config.parsers.rule(name).add.get("event.dataset")
            if isinstance(value, str) and _DATASET.match(value) and "-" not in value:
                found.append(value)
    return list(dict.fromkeys(found))
