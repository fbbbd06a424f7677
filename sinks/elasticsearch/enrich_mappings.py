"""Mappings of the fields the enrichment steps write (parsers.enrich), typed as ECS types them:
`source.geo.location` a geo_point, AS numbers and ports longs, names keywords (with a `.text`
multi-field where ECS has one). `logship setup elasticsearch` installs them in both modes, so a
record and the template agree even where `ecs@mappings` would guess (tests check each field).
"""

from __future__ import annotations

from typing import Any

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_KEYWORD_AND_TEXT = {"type": "keyword", "ignore_above": 1024, "fields": {"text": {"type": "text"}}}

ENRICH_PROPERTIES: dict[str, Any] = {
    "user_agent.name": _KEYWORD,
    "user_agent.version": _KEYWORD,
    "user_agent.device.name": _KEYWORD,
    "user_agent.os.name": _KEYWORD_AND_TEXT,
    "user_agent.os.version": _KEYWORD,
    "user_agent.os.full": _KEYWORD_AND_TEXT,
    "source.geo.location": {"type": "geo_point"},
    "source.geo.city_name": _KEYWORD,
    "source.geo.continent_code": _KEYWORD,
    "source.geo.continent_name": _KEYWORD,
    "source.geo.country_iso_code": _KEYWORD,
    "source.geo.country_name": _KEYWORD,
    "source.geo.region_iso_code": _KEYWORD,
    "source.geo.region_name": _KEYWORD,
    "source.as.number": {"type": "long"},
    "source.as.organization.name": _KEYWORD_AND_TEXT,
    "url.path": _KEYWORD,
    "url.query": _KEYWORD,
    "url.fragment": _KEYWORD,
    "url.extension": _KEYWORD,
    "url.scheme": _KEYWORD,
    "url.domain": _KEYWORD,
    "url.port": {"type": "long"},
}
"""Dotted names, as the rest of the setup's properties (Elasticsearch expands them)."""
