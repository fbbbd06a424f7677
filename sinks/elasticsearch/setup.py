"""`logship setup elasticsearch`: make the cluster (and Kibana) ready for what the agent ships.

Data-stream mode works with Elasticsearch's built-in `logs-*-*` template instead of competing
with it: for `logs-<dataset>-*` it installs an index template at priority 150 (above the
built-in 100, below Fleet integrations' 200) composed of the same building blocks
(`logs@mappings`, `logs@settings`, `ecs@mappings`), plus `logs-<dataset>@logship` (the
mappings the configured rules and the enrichment steps need, the ILM policy) and the user's `logs@custom` and
`logs-<dataset>@custom`, which stay the place for customisation. Index mode installs an index
template with ECS mappings for the fields the agent emits. Both write an ILM policy with the
configured retention, and a Kibana data view when a Kibana URL is configured.

Every step is an idempotent PUT/POST, so running setup again after a config change updates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from logship.core.errors import LogshipError
from parsers.config import RuleSettings
from sinks.elasticsearch.client import Client, node_configs
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.enrich_mappings import ENRICH_PROPERTIES
from sinks.elasticsearch.streams import DEFAULT_DATASET
from sinks.transport.errors import Unreachable

_RULE_TYPES = {"int": "long", "float": "double", "bool": "boolean"}
_BUILTIN_PARTS = ("logs@mappings", "logs@settings", "ecs@mappings")
DATA_STREAM_PRIORITY = 150

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_TEXT_AND_KEYWORD = {"type": "keyword", "ignore_above": 1024, "fields": {"text": {"type": "text"}}}

METADATA_PROPERTIES: dict[str, Any] = {
    "tags": _KEYWORD,
    "ecs.version": _KEYWORD,
    "agent.type": _KEYWORD,
    "agent.version": _KEYWORD,
    "agent.name": _KEYWORD,
    "service.name": _KEYWORD,
    "service.version": _KEYWORD,
    "service.environment": _KEYWORD,
    "event.dataset": _KEYWORD,
}
"""What the agent and the inputs' metadata add to every record (`parsers.stamp`): keyword, as ECS
says. In the data stream templates too, so they do not depend on `ecs@mappings`' version."""

ECS_PROPERTIES: dict[str, Any] = {
    **METADATA_PROPERTIES,
    "@timestamp": {"type": "date"},
    "message": {"type": "text"},
    "log.level": _KEYWORD,
    "log.logger": _KEYWORD,
    "log.offset": {"type": "long"},
    "log.flags": _KEYWORD,
    "log.file.path": _KEYWORD,
    "log.file.device_id": _KEYWORD,
    "log.file.inode": _KEYWORD,
    "host.name": _KEYWORD,
    "event.original": {"type": "keyword", "index": False, "doc_values": False},
    "event.duration": {"type": "long"},
    "error.message": {"type": "text"},
    "error.stack_trace": {"type": "text"},
    "error.type": _KEYWORD,
    "http.version": _KEYWORD,
    "http.request.method": _KEYWORD,
    "http.request.referrer": _KEYWORD,
    "http.response.status_code": {"type": "long"},
    "http.response.body.bytes": {"type": "long"},
    "url.original": _TEXT_AND_KEYWORD,
    "url.path": _KEYWORD,
    "url.query": _KEYWORD,
    "source.ip": {"type": "ip"},
    "client.ip": {"type": "ip"},
    "user.name": _KEYWORD,
    "user_agent.original": _TEXT_AND_KEYWORD,
    "process.pid": {"type": "long"},
    "process.thread.name": _KEYWORD,
    "kubernetes.namespace": _KEYWORD,
    "kubernetes.pod.name": _KEYWORD,
    "kubernetes.container.name": _KEYWORD,
    "kubernetes.node.name": _KEYWORD,
}
"""The ECS fields the agent and its usual rules emit, for index mode (dotted names are expanded)."""


class SetupError(LogshipError):
    """Setup cannot go on; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Step:
    """One request of the setup: to Elasticsearch or to Kibana."""

    to: Literal["elasticsearch", "kibana"]
    method: str
    path: str
    body: Any
    what: str


def rule_mappings(rules: Sequence[RuleSettings]) -> dict[str, Any]:
    """Mappings for the typed fields the rules capture (`types: {status: int}` -> long)."""
    properties: dict[str, Any] = {}
    for rule in rules:
        for name, kind in rule.types.items():
            if kind in _RULE_TYPES and (rule.timestamp is None or name not in rule.timestamp.field):
                properties[name] = {"type": _RULE_TYPES[kind]}
    return properties


def index_patterns(settings: ElasticsearchSinkSettings) -> list[str]:
    """Index mode: the patterns matching every name the `index` / `default_index` templates render."""
    assert settings.index is not None
    patterns: list[str] = []
    for text in (settings.index, settings.default_index):
        pattern = _to_pattern(text)
        if not pattern.strip("*"):
            raise SetupError(
                f"index {text!r} has no literal part to match its indices by; start it with a "
                f"fixed prefix, like 'logs-{{service.name}}-%Y.%m.%d'"
            )
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def _to_pattern(template: str) -> str:
    pattern = re.sub(r"\{\{|\}\}|%%", lambda m: m.group(0)[0], template)
    pattern = re.sub(r"\{[^{}]*\}|%[YmdH]", "*", pattern)
    return re.sub(r"\*+", "*", pattern).lower()


def ilm_policy(settings: ElasticsearchSinkSettings, rollover: bool) -> dict[str, Any]:
    """The ILM policy: rollover (data streams) and, with `setup.retention`, deletion."""
    setup = settings.setup
    hot: dict[str, Any] = {"actions": {}}
    if rollover:
        hot["actions"]["rollover"] = {
            "max_age": f"{int(setup.rollover_max_age)}s",
            "max_primary_shard_size": setup.rollover_max_primary_shard_size,
        }
    phases: dict[str, Any] = {"hot": hot}
    if setup.retention is not None:
        phases["delete"] = {"min_age": f"{int(setup.retention)}s", "actions": {"delete": {}}}
    return {"policy": {"phases": phases, "_meta": {"managed_by": "logship"}}}


def plan_setup(
    settings: ElasticsearchSinkSettings,
    rules: Sequence[RuleSettings],
    datasets: Sequence[str] = (),
) -> list[Step]:
    """The requests that set up one sink's target, in order.

    `datasets`: the data streams a sink without a fixed `dataset` writes (records route by their
    `event.dataset`): one template each, `generic` always among them.
    """
    steps: list[Step] = []
    setup = settings.setup
    meta = {"managed_by": "logship", "sink": settings.name}
    if settings.index is None:
        for part in _BUILTIN_PARTS:
            steps.append(
                Step(
                    "elasticsearch",
                    "GET",
                    f"/_component_template/{part}",
                    None,
                    f"built-in component template {part} exists",
                )
            )
        if settings.dataset is not None:
            chosen = [settings.dataset]
        else:
            chosen = list(dict.fromkeys([*datasets, DEFAULT_DATASET]))
        for dataset in chosen:
            steps += _data_stream_steps(settings, rules, dataset, meta, len(chosen) > 1)
        view_title = ",".join(f"logs-{dataset}-*" for dataset in chosen)
        view_id = (
            f"logship-logs-{settings.dataset}"
            if settings.dataset is not None
            else f"logship-{settings.name}"
        )
    else:
        patterns = index_patterns(settings)
        policy = setup.ilm_policy or f"logship-{settings.name}"
        template = setup.template_name or f"logship-{settings.name}"
        index_settings: dict[str, Any] = {}
        if setup.retention is not None:
            steps.append(
                Step(
                    "elasticsearch",
                    "PUT",
                    f"/_ilm/policy/{policy}",
                    ilm_policy(settings, rollover=False),
                    f"ILM policy {policy}",
                )
            )
            index_settings["index.lifecycle.name"] = policy
        steps.append(
            Step(
                "elasticsearch",
                "PUT",
                f"/_index_template/{template}",
                {
                    "index_patterns": patterns,
                    # Above the built-in logs-*-* (100): names like logs-web-2026.01.01 would
                    # otherwise become data streams.
                    "priority": _priority(setup.template_priority, 200),
                    "template": {
                        "settings": index_settings,
                        "mappings": {
                            "dynamic_templates": [
                                {
                                    "strings_as_keyword": {
                                        "match_mapping_type": "string",
                                        "mapping": _KEYWORD,
                                    }
                                }
                            ],
                            "properties": {
                                **ECS_PROPERTIES,
                                **ENRICH_PROPERTIES,
                                **rule_mappings(rules),
                            },
                        },
                    },
                    "_meta": meta,
                },
                f"index template {template} for {', '.join(patterns)}",
            )
        )
        view_title = ",".join(patterns)
        view_id = f"logship-{settings.name}"
    if setup.kibana is not None:
        space = f"/s/{setup.kibana.space}" if setup.kibana.space else ""
        steps.append(
            Step(
                "kibana",
                "POST",
                f"{space}/api/data_views/data_view",
                {
                    "data_view": {
                        "id": view_id,
                        "title": view_title,
                        "name": f"logship: {view_title}",
                        "timeFieldName": "@timestamp",
                    },
                    "override": True,
                },
                f"Kibana data view {view_title}",
            )
        )
    return steps


def _data_stream_steps(
    settings: ElasticsearchSinkSettings,
    rules: Sequence[RuleSettings],
    dataset: str,
    meta: dict[str, Any],
    several: bool,
) -> list[Step]:
    """ILM policy, component template and index template of one dataset's data streams
    (`several`: one of several datasets, so a configured template name gets the dataset)."""
    setup = settings.setup
    policy = setup.ilm_policy or f"logship-{dataset}"
    component = f"logs-{dataset}@logship"
    template = f"logship-logs-{dataset}"
    if setup.template_name is not None:
        template = f"{setup.template_name}-{dataset}" if several else setup.template_name
    pattern = f"logs-{dataset}-*"
    return [
        Step(
            "elasticsearch",
            "PUT",
            f"/_ilm/policy/{policy}",
            ilm_policy(settings, rollover=True),
            f"ILM policy {policy}",
        ),
        Step(
            "elasticsearch",
            "PUT",
            f"/_component_template/{component}",
            {
                "template": {
                    "settings": {"index.lifecycle.name": policy},
                    "mappings": {
                        "properties": {
                            **METADATA_PROPERTIES,
                            **ENRICH_PROPERTIES,
                            **rule_mappings(rules),
                        }
                    },
                },
                "_meta": meta,
            },
            f"component template {component}",
        ),
        Step(
            "elasticsearch",
            "PUT",
            f"/_index_template/{template}",
            {
                "index_patterns": [pattern],
                "data_stream": {},
                "priority": _priority(setup.template_priority, DATA_STREAM_PRIORITY),
                "composed_of": [
                    *_BUILTIN_PARTS,
                    component,
                    "logs@custom",
                    f"logs-{dataset}@custom",
                ],
                "ignore_missing_component_templates": ["logs@custom", f"logs-{dataset}@custom"],
                "_meta": {**meta, "description": f"logs-{dataset}-* written by logship"},
            },
            f"index template {template} for {pattern}",
        ),
    ]


def run_setup(
    settings: ElasticsearchSinkSettings,
    rules: Sequence[RuleSettings],
    say: Callable[[str], None],
    datasets: Sequence[str] = (),
) -> None:
    """Carries out the plan for one sink; raises SetupError on the first step that fails."""
    steps = plan_setup(settings, rules, datasets)
    es = Client(node_configs(settings))
    kibana = (
        Client(node_configs(settings, [settings.setup.kibana.url]))
        if settings.setup.kibana is not None
        else None
    )
    try:
        for step in steps:
            client = es if step.to == "elasticsearch" else kibana
            assert client is not None
            headers = {"kbn-xsrf": "logship"} if step.to == "kibana" else None
            try:
                answer = client.request(step.method, step.path, body=step.body, headers=headers)
            except Unreachable as exc:
                raise SetupError(
                    f"{step.what}: cannot reach {step.to} at {client.description}: {exc}"
                ) from None
            if answer.status == 404 and step.method == "GET":
                raise SetupError(
                    f"{step.what}: not found. Setup builds on the component templates of "
                    f"Elasticsearch 8.13 or later; on an older cluster use index: mode or "
                    f"create the templates by hand"
                )
            if answer.status in (401, 403):
                raise SetupError(
                    f"{step.what}: {step.to} answered {answer.status}: {_short(answer.body)}. "
                    f"Setup needs the manage_index_templates and manage_ilm cluster privileges "
                    f"(and Kibana data view rights); run it with an admin user or API key"
                )
            if not 200 <= answer.status < 300:
                raise SetupError(
                    f"{step.what}: {step.to} answered {answer.status}: {_short(answer.body)}"
                )
            say(f"{step.what}: ok")
    finally:
        es.close()
        if kibana is not None:
            kibana.close()


def _priority(configured: int | None, default: int) -> int:
    return default if configured is None else configured


def _short(body: Any) -> str:
    text = str(body.get("error", body)) if isinstance(body, dict) else str(body)
    return text if len(text) <= 300 else text[:297] + "..."
