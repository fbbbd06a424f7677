"""Stamps: the constants an input adds to every record (its `fields`, `tags`, `dataset`,
`service`, and the agent's `ecs.version` / `agent.*`), merged by `ParserChain` per record.

Built once per chain from the settings. The agent's own objects, `ecs` and `agent`, are made
once per chunk and shared by that chunk's records: two dict stores per record, the default's
whole cost. No stage writes into them (records are read-only after the chain; the stamp runs
after `drop_if` and redaction, which have nothing to find in the agent's constants). The input's
`fields` and `service` objects are copied per record, because later stages (enrichment) may
write into objects like `source` or `url`.

Precedence: a value the rule parsed from the line wins over a constant (the record never loses
text of its event, DESIGN.md invariant 2); a constant fills what the record lacks, also inside an
object the rule started (`service.name` from the line, `service.environment` from the input).
`dataset` is the exception: it is the input's statement of what its files are, so it replaces
the `event.dataset` a built-in rule adds. Tags are appended once each.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import logship
from logship.core.record import ECS_VERSION, LogEntry


class ServiceLike(Protocol):
    """An input's `service:` settings (`logship.core.metadata.ServiceSettings`)."""

    def model_dump(self) -> dict[str, Any]:
        """Its values by key (None for the unset ones)."""
        ...


class StampedInput(Protocol):
    """What a stamp reads of an input's settings (`logship.app.config.InputSettings`)."""

    @property
    def fields(self) -> dict[str, Any]:
        """Constant fields, nested."""
        ...

    @property
    def service(self) -> ServiceLike | None:
        """`service.*` constants, when set."""
        ...

    @property
    def tags(self) -> Sequence[str]:
        """Tags added to every record."""
        ...

    @property
    def dataset(self) -> str | None:
        """`event.dataset` of every record, when set."""
        ...


class AgentIdentity(Protocol):
    """What a stamp reads of the agent's settings (`logship.app.config.AgentSettings`)."""

    @property
    def metadata(self) -> bool:
        """Whether records carry `ecs.version` and `agent.*`."""
        ...

    @property
    def name(self) -> str | None:
        """`agent.name`, when set (else the host name)."""
        ...

    @property
    def host_name(self) -> str:
        """The host's name."""
        ...


StampLine = Callable[[LogEntry], None]
"""Adds an input's constants to one record in place."""

_SHARED = ("ecs", "agent")
"""Objects only the agent writes: shared by the records of a chunk (see the module docstring)."""


def metadata_tree(inp: StampedInput, agent: AgentIdentity) -> dict[str, Any]:
    """The constants of an input's records, nested (without `tags` and `event.dataset`)."""
    tree: dict[str, Any] = copy.deepcopy(inp.fields)
    if inp.service is not None:
        service = {k: v for k, v in inp.service.model_dump().items() if v is not None}
        tree.setdefault("service", {}).update(service)
    if agent.metadata:
        tree["ecs"] = {"version": ECS_VERSION}
        tree["agent"] = {
            "type": "logship",
            "version": logship.__version__,
            "name": agent.name or agent.host_name,
        }
    return tree


def input_stamp(inp: StampedInput, agent: AgentIdentity) -> Stamp | None:
    """The stamp of an input's records, or None when it adds nothing."""
    return Stamp.build(metadata_tree(inp, agent), list(inp.tags), inp.dataset)


class Stamp:
    """An input's constants; `for_chunk()` gives the function that adds them to a record."""

    def __init__(
        self,
        shared: dict[str, dict[str, Any]],
        copied: dict[str, Any],
        tags: list[str],
        dataset: str | None,
    ) -> None:
        self.shared = shared
        self.copied = copied
        self.tags = list(dict.fromkeys(tags))  # once each, in order
        self.dataset = dataset

    @classmethod
    def build(cls, tree: dict[str, Any], tags: list[str], dataset: str | None) -> Stamp | None:
        """The stamp adding `tree` (nested constants), `tags` and `event.dataset`; None when
        there is nothing to add."""
        if not tree and not tags and dataset is None:
            return None
        shared = {k: v for k, v in tree.items() if k in _SHARED and isinstance(v, dict)}
        copied = {k: v for k, v in tree.items() if k not in shared}
        return cls(shared, copied, tags, dataset)

    def agent_objects(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The (ecs, agent) objects when they are all this stamp adds (the default), else None."""
        plain = not self.copied and not self.tags and self.dataset is None
        if plain and tuple(self.shared) == _SHARED:
            return self.shared["ecs"], self.shared["agent"]
        return None

    def for_chunk(self) -> StampLine:
        """The function stamping the records of one chunk (`ParserChain.parse` call)."""
        shared = copy.deepcopy(self.shared)
        plain = not self.copied and not self.tags and self.dataset is None
        if plain and tuple(shared) == _SHARED:
            return _agent_only(shared["ecs"], shared["agent"])
        return self._general(shared)

    def _general(self, shared: dict[str, dict[str, Any]]) -> StampLine:
        # (key, value, how to copy it): flat objects are copied with dict.copy, the common case.
        items: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for key, value in self.copied.items():
            if isinstance(value, dict):
                flat = not any(isinstance(v, dict | list) for v in value.values())
                items.append((key, value, dict.copy if flat else copy.deepcopy))
            elif isinstance(value, list):
                items.append((key, value, list.copy))
            else:
                items.append((key, value, None))
        for key, value in shared.items():
            items.append((key, value, _SAME))
        tag_list = self.tags
        dataset = self.dataset

        def stamp(rec: LogEntry) -> None:
            get = rec.get
            for key, value, copier in items:
                current = get(key)
                if current is None:
                    rec[key] = copier(value) if copier is not None else value
                elif copier is not None and type(current) is dict and type(value) is dict:
                    _fill(current, value)
                # else: the record's own value (parsed from the line) wins
            if dataset is not None:
                event = get("event")
                if event is None:
                    rec["event"] = {"dataset": dataset}
                elif type(event) is dict:
                    event["dataset"] = dataset
                # a scalar `event` is a piece of the line: kept (Elasticsearch reports the conflict)
            if tag_list:
                current_tags = get("tags")
                if current_tags is None:
                    rec["tags"] = tag_list.copy()
                else:
                    for tag in tag_list:
                        if tag not in current_tags:
                            current_tags.append(tag)

        return stamp


def _same(value: Any) -> Any:
    return value


_SAME = _same
"""The "copier" of shared objects."""


def _agent_only(ecs: dict[str, Any], agent: dict[str, Any]) -> StampLine:
    """The default stamp (no input metadata): two stores per record, the hot path."""

    def stamp(rec: LogEntry) -> None:
        if "ecs" in rec or "agent" in rec:
            _fill_or_set(rec, "ecs", ecs)
            _fill_or_set(rec, "agent", agent)
        else:
            rec["ecs"] = ecs
            rec["agent"] = agent

    return stamp


def _fill_or_set(rec: LogEntry, key: str, value: dict[str, Any]) -> None:
    current = rec.get(key)
    if current is None:
        rec[key] = value
    elif type(current) is dict:
        _fill(current, value)


def _fill(target: dict[str, Any], constants: dict[str, Any]) -> None:
    """Adds the constants `target` lacks, recursively; the target's own values win."""
    for key, value in constants.items():
        current = target.get(key)
        if current is None:
            target[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
        elif isinstance(current, dict) and isinstance(value, dict):
            _fill(current, value)
