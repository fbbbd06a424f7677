"""Records reach the data stream their `event.dataset` names, and the templates `logship setup
elasticsearch` installs map what the agent adds to every record."""

from __future__ import annotations

from typing import Any

import orjson

from logship.app.config import Config
from logship.core.lines import Lines
from logship.core.metadata import known_datasets
from parsers.chain import build_chains
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.encoder import Target, encode_bulk
from sinks.elasticsearch.setup import ECS_PROPERTIES, METADATA_PROPERTIES, plan_setup
from sinks.elasticsearch.streams import sanitise

NGINX_LINE = (
    '203.0.113.7 - - [05/Dec/2026:10:00:00 +0000] "GET /cart?id=1 HTTP/1.1" 200 512 "-" '
    '"Mozilla/5.0"'
)


def sink(**kwargs: Any) -> ElasticsearchSinkSettings:
    return ElasticsearchSinkSettings(
        name="es", type="elasticsearch", hosts=["http://127.0.0.1:9200"], **kwargs
    )


def config() -> Config:
    return Config.model_validate(
        {
            "agent": {"host_name": "node-1"},
            "inputs": [
                {
                    "name": "shop",
                    "paths": ["/x/shop/*.log"],
                    "parsers": ["nginx_access"],
                    "dataset": "shop.edge",
                    "service": {"name": "shop", "environment": "prod"},
                    "tags": ["edge"],
                },
                {"name": "web", "paths": ["/x/web/*.log"], "parsers": ["nginx_access"]},
                {"name": "app", "paths": ["/x/app/*.log"]},
            ],
            "sinks": [{"name": "out", "type": "stdout"}],
        }
    )


def records(input_name: str, *texts: str) -> list[dict[str, Any]]:
    lines = Lines(end=0)
    for i, text in enumerate(texts):
        lines.texts.append(text)
        lines.starts.append(i * 200)
    file = {"path": "/x/a.log", "device_id": "1", "inode": "2"}
    entries, _ = build_chains(config())[input_name].parse(lines, file, "2026-12-05T00:00:00.000Z")
    return entries


def docs(entries: list[dict[str, Any]], settings: ElasticsearchSinkSettings) -> list[Any]:
    encoded = encode_bulk(entries, Target.from_settings(settings))
    assert not encoded.rejected
    lines = encoded.body().splitlines()
    return [
        (orjson.loads(a), orjson.loads(d)) for a, d in zip(lines[::2], lines[1::2], strict=True)
    ]


def test_records_go_to_the_data_stream_of_their_event_dataset_by_default() -> None:
    entries = [*records("shop", NGINX_LINE), *records("web", NGINX_LINE), *records("app", "x")]
    out = docs(entries, sink(namespace="prod"))
    assert [a["create"]["_index"] for a, _ in out] == [
        "logs-shop.edge-prod",
        "logs-nginx.access-prod",
        "logs-generic-prod",
    ]
    for (action, doc), entry in zip(out, entries, strict=True):
        dataset = action["create"]["_index"].split("-")[1]
        assert doc["data_stream"] == {"type": "logs", "dataset": dataset, "namespace": "prod"}
        assert doc["event"]["dataset"] == dataset
        assert doc["message"] == entry["message"]
    assert "data_stream" not in entries[0]


def test_a_dataset_elasticsearch_would_refuse_is_made_valid_as_its_reroute_processor_does() -> None:
    entry = {
        "@timestamp": "2026-12-05T00:00:00.000Z",
        "message": "m",
        "event": {"dataset": "Shop-Edge:v2"},
    }
    ((action, doc),) = docs([entry], sink())
    assert action["create"]["_index"] == "logs-shop_edge_v2-default"
    assert doc["event"] == {"dataset": "shop_edge_v2"}
    assert entry["event"] == {"dataset": "Shop-Edge:v2"}
    assert sanitise("__.x") == "x"
    assert sanitise("-") == "generic"
    assert len(sanitise("a" * 300).encode()) == 100


def test_a_sink_with_a_dataset_sends_every_record_to_that_stream() -> None:
    entries = [*records("shop", NGINX_LINE), *records("app", "x")]
    out = docs(entries, sink(dataset="all"))
    assert [a["create"]["_index"] for a, _ in out] == ["logs-all-default", "logs-all-default"]
    assert [d["event"]["dataset"] for _, d in out] == ["all", "all"]


def test_setup_without_a_sink_dataset_installs_a_template_per_dataset_the_inputs_make() -> None:
    cfg = config()
    assert known_datasets(cfg) == ["shop.edge", "nginx.access"]
    steps = plan_setup(sink(), cfg.parsers.rules, known_datasets(cfg))
    templates = [s.path for s in steps if s.path.startswith("/_index_template/")]
    assert templates == [
        "/_index_template/logship-logs-shop.edge",
        "/_index_template/logship-logs-nginx.access",
        "/_index_template/logship-logs-generic",
    ]
    named = plan_setup(sink(setup={"template_name": "mine"}), [], ["a", "b"])
    assert [s.path for s in named if s.path.startswith("/_index_template/")] == [
        "/_index_template/mine-a",
        "/_index_template/mine-b",
        "/_index_template/mine-generic",
    ]


def _leaves(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_templates_and_a_record_agree_on_the_metadata_fields() -> None:
    ((_, doc),) = docs(records("shop", NGINX_LINE), sink())
    leaves = _leaves(doc)
    added = {
        path: value
        for path, value in leaves.items()
        if path.split(".")[0] in ("ecs", "agent", "service", "tags") or path == "event.dataset"
    }
    assert set(added) == set(METADATA_PROPERTIES) - {"service.version"}
    steps = plan_setup(sink(), [], ["shop.edge"])
    (component,) = [
        s.body for s in steps if s.path == "/_component_template/logs-shop.edge@logship"
    ]
    mapped = component["template"]["mappings"]["properties"]
    for path, value in added.items():
        assert mapped[path]["type"] == "keyword", path
        assert ECS_PROPERTIES[path]["type"] == "keyword", path  # index mode too
        values = value if isinstance(value, list) else [value]
        assert all(isinstance(v, str) for v in values), path
    # No mapped path is a scalar where the record has an object, or the reverse.
    for path in mapped:
        parts = path.split(".")
        for length in range(1, len(parts)):
            assert ".".join(parts[:length]) not in leaves, path
