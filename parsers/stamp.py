"""Stamps: the constants an input adds to every record (its `fields`, `tags`, `dataset`,
`service`, and the agent's `ecs.version` / `agent.*`), merged by `ParserChain` per record.

Built once per chain from the settings, so a record pays a few dict operations: each top-level
object is a fresh shallow copy (records never share mutable objects: later stages such as
enrichment and redaction write into them), nested only where the settings nest deeper.

Precedence: a value the rule parsed from the line wins over a constant (the record never loses
text of its event, DESIGN.md invariant 2); a constant fills what the record lacks, also inside an
object the rule started (`service.name` from the line, `service.environment` from the input).
`dataset` is the exception: it is the input's statement of what its files are, so it replaces
the `event.dataset` a built-in rule adds. Tags are appended once each.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import logship
from logship.input_metadata import ECS_VERSION
from logship.record import LogEntry

if TYPE_CHECKING:
    from logship.config import AgentSettings, InputSettings

Stamp = Callable[[LogEntry], None]
"""Adds an input's constants to one record in place."""


def metadata_tree(inp: InputSettings, agent: AgentSettings) -> dict[str, Any]:
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


def input_stamp(inp: InputSettings, agent: AgentSettings) -> Stamp | None:
    """The stamp of an input's records, or None when it adds nothing."""
    return build_stamp(metadata_tree(inp, agent), list(inp.tags), inp.dataset)


def build_stamp(tree: dict[str, Any], tags: list[str], dataset: str | None) -> Stamp | None:
    """A function adding `tree` (nested constants), `tags` and `event.dataset` to a record."""
    if not tree and not tags and dataset is None:
        return None
    # (key, value, how to copy it): flat objects are copied with dict.copy, the common case.
    items: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            flat = not any(isinstance(v, dict | list) for v in value.values())
            items.append((key, value, dict.copy if flat else copy.deepcopy))
        elif isinstance(value, list):
            items.append((key, value, list.copy))
        else:
            items.append((key, value, None))
    tag_list = list(dict.fromkeys(tags))  # once each, in order

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


def _fill(target: dict[str, Any], constants: dict[str, Any]) -> None:
    """Adds the constants `target` lacks, recursively; the target's own values win."""
    for key, value in constants.items():
        current = target.get(key)
        if current is None:
            target[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
        elif isinstance(current, dict) and isinstance(value, dict):
            _fill(current, value)
