"""The template `logship setup elasticsearch` installs maps every field the enrichment writes,
with a type the record's value fits (geo_point for `source.geo.location`, long for numbers,
keyword for text), in data-stream and in index mode."""

from __future__ import annotations

from typing import Any

import pytest

from logship.core.lines import Lines
from logship.tail.stages import parse_events
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.enrich import EnrichChain
from parsers.section import ParsersSettings
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.setup import plan_setup
from tests.enrich.test_enrich_properties import chain

LINES = [
    '89.160.20.112 - - [07/Dec/2016:11:05:07 +0100] "GET /shop/cart.php?id=7#top HTTP/1.1" 200 1 '
    '"-" "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"',
    '81.2.69.160 - - [07/Dec/2016:11:05:07 +0100] "GET https://www.example.com:8443/a.png?s=1 '
    'HTTP/1.1" 200 1 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 '
    '(KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36"',
]
OWNED_PREFIXES = ("user_agent.", "source.geo.", "source.as.", "url.")


def enriched_fields() -> dict[str, Any]:
    """Every field the steps write on these lines, flat, with its value (location whole)."""
    section = ParsersSettings()
    parser = ParserChain([compile_rule(section.rule("nginx_access"), section.library)], "h")
    enrichment: EnrichChain = chain()
    parser.enrichment = enrichment
    starts = [0, len(LINES[0]) + 1]
    entries, _ = parse_events(
        parser, Lines(LINES, starts, starts[1] + len(LINES[1]) + 1, []), {}, None
    )
    fields: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = prefix + key
            if isinstance(value, dict) and name != "source.geo.location":
                walk(value, name + ".")
            else:
                fields[name] = value

    for entry in entries:
        walk(entry, "")
    return {
        k: v
        for k, v in fields.items()
        if k.startswith(OWNED_PREFIXES) and k not in ("user_agent.original", "url.original")
    }


def properties(mode: str) -> dict[str, Any]:
    extra = {"index": "logs-web-%Y.%m.%d"} if mode == "index" else {"dataset": "nginx.access"}
    settings = ElasticsearchSinkSettings(
        name="es", type="elasticsearch", hosts=["http://127.0.0.1:9200"], **extra
    )
    for step in plan_setup(settings, []):
        body = step.body or {}
        template = body.get("template", body)
        if isinstance(template, dict) and "mappings" in template:
            found: dict[str, Any] = template["mappings"]["properties"]
            return found
    raise AssertionError("no mappings in the setup")


def fits(mapping: dict[str, Any], value: Any) -> bool:
    kind = mapping["type"]
    if kind == "keyword":
        return isinstance(value, str) and len(value) <= mapping.get("ignore_above", 1 << 30)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "geo_point":
        return set(value) == {"lat", "lon"} and all(
            isinstance(v, float | int) for v in value.values()
        )
    return False


@pytest.mark.parametrize("mode", ["data_stream", "index"])
def test_the_template_maps_every_enriched_field_with_a_type_its_value_fits(mode: str) -> None:
    fields = enriched_fields()
    assert {"source.geo.location", "source.as.number", "url.port", "user_agent.os.full"} <= set(
        fields
    )
    mapped = properties(mode)
    for name, value in fields.items():
        assert name in mapped, f"{name} is not mapped"
        assert fits(mapped[name], value), f"{name}: {value!r} does not fit {mapped[name]}"
