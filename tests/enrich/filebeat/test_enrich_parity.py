"""The enrichment steps against Filebeat's modules: the `user_agent.*`, `source.geo.*`,
`source.as.*` and `url.*` fields Filebeat gives for its own nginx and apache fixtures.

Each `<name>.log` has a `<name>.expected.jsonl` beside it: per event, Filebeat's values of the
enriched fields, flat (SOURCES.md says which version of which file). A row with
`"_only": "url"` was worked out by hand from the `uri_parts` processor (no Filebeat output of
that line exists), so only its `url.*` fields are compared. Every compared field must be equal,
except the documented differences (docs/enrichment.md, "Differences from Filebeat"), which
`FORGIVEN` lists one by one with their reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from logship.app.enrich_wiring import open_database
from logship.tail.framing import LineFramer
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.enrich import EnrichChain, EnrichStepSettings
from parsers.enrich.geoip import GeoipStep
from parsers.enrich.url import UrlStep
from parsers.enrich.user_agent import UserAgentStep
from parsers.section import ParsersSettings
from tests.parsers.filebeat.test_filebeat_parity import flatten

HERE = Path(__file__).parent
DATA = HERE.parent / "data"
FILES = {
    "nginx-access-test": "nginx_access",
    "nginx-access-test-geoip": "nginx_access",
    "nginx-access": "nginx_access",
    "apache-access-test": "apache_access",
}
COMPARED_PREFIXES = ("user_agent.", "source.geo.", "source.as.", "url.")
NOT_COMPARED = {"user_agent.original", "url.original", "source.geo.continent_code"}
"""Parser fields, and `continent_code`, which logship adds (Filebeat's default leaves it out)."""

GEO_CITY = (
    "source.geo.city_name",
    "source.geo.region_iso_code",
    "source.geo.region_name",
    "source.geo.location.lat",
    "source.geo.location.lon",
)
AS_ALL = ("source.as.number", "source.as.organization.name")
REAL_DB = "real-database"
"""Filebeat's expected values come from real GeoLite2 data; the test uses MaxMind's test
databases, which place this address elsewhere or not at all."""

FORGIVEN: dict[tuple[str, int], dict[str, str]] = {
    # 81.2.69.143: London in the test data, Radwell (Hertfordshire) in Filebeat's; not in the
    # test ASN database.
    **{
        ("nginx-access-test-geoip", n): dict.fromkeys((*GEO_CITY, *AS_ALL), REAL_DB) for n in (1, 2)
    },
    # 175.16.199.1: the test data has a city (Changchun) where Filebeat's had none.
    ("nginx-access-test-geoip", 3): dict.fromkeys((*GEO_CITY, *AS_ALL), REAL_DB),
    # 2a02:cf40::/29: Norway in the test data, Denmark in Filebeat's (both in Europe).
    ("nginx-access-test-geoip", 4): dict.fromkeys(
        (
            "source.geo.country_iso_code",
            "source.geo.country_name",
            "source.geo.location.lat",
            "source.geo.location.lon",
            *AS_ALL,
        ),
        REAL_DB,
    ),
    # 77.179.66.156 is not in the test databases at all.
    # (That version of Filebeat gave no country_name.)
    **{
        ("nginx-access", n): dict.fromkeys(
            (*GEO_CITY, "source.geo.continent_name", "source.geo.country_iso_code", *AS_ALL),
            REAL_DB,
        )
        for n in range(1, 9)
    },
}


def enrichment() -> EnrichChain:
    """user_agent, url and geoip (MaxMind's test databases), as an input would configure them."""
    geo = EnrichStepSettings.model_validate(
        {
            "geoip": {
                "city_db": str(DATA / "GeoLite2-City-Test.mmdb"),
                "asn_db": str(DATA / "GeoLite2-ASN-Test.mmdb"),
            }
        }
    ).geoip
    assert geo is not None
    assert geo.city_db is not None
    assert geo.asn_db is not None
    steps = [
        UserAgentStep(EnrichStepSettings.model_validate("user_agent").user_agent),  # type: ignore[arg-type]
        UrlStep(EnrichStepSettings.model_validate("url").url),  # type: ignore[arg-type]
        GeoipStep(geo, open_database(geo.city_db), open_database(geo.asn_db)),
    ]
    return EnrichChain(steps)


def enriched_events(name: str) -> list[dict[str, Any]]:
    section = ParsersSettings()
    chain = ParserChain([compile_rule(section.rule(FILES[name]), section.library)], "h")
    framer = LineFramer(0, 1 << 20)
    lines = framer.feed((HERE / f"{name}.log").read_bytes())
    lines.extend(framer.flush())
    entries, _ = chain.parse(lines, {"path": f"/var/log/{name}.log"}, "2026-01-02T00:00:00.000Z")
    enrichment().apply(entries)
    return [flatten(e) for e in entries]


def _normalise(field: str, ours: Any, theirs: Any) -> Any:
    """Filebeat's value as logship deliberately gives it (docs/enrichment.md)."""
    if field in ("user_agent.version", "user_agent.os.version") and isinstance(theirs, str):
        return theirs.rstrip(".")  # Elasticsearch joins an empty patch with a dot: "49.0."
    if field == "user_agent.device.name" and theirs == "Other" and ours == "Mac":
        return ours  # uap-core names Macs since 2019; Filebeat's newer outputs say "Mac" too
    return theirs


def disagreements(name: str) -> list[str]:
    expected = [
        orjson.loads(x) for x in (HERE / f"{name}.expected.jsonl").read_bytes().splitlines()
    ]
    ours_all = enriched_events(name)
    assert len(ours_all) == len(expected), (
        f"{name}: {len(ours_all)} events, Filebeat {len(expected)}"
    )
    problems = []
    for number, (ours, theirs) in enumerate(zip(ours_all, expected, strict=True), 1):
        only = theirs.pop("_only", None)
        forgiven = FORGIVEN.get((name, number), {})
        fields = {
            f for f in (*ours, *theirs) if f.startswith(COMPARED_PREFIXES) and f not in NOT_COMPARED
        }
        for field in sorted(fields):
            if only is not None and not field.startswith(f"{only}."):
                continue
            mine = ours.get(field)
            want = _normalise(field, mine, theirs.get(field))
            if mine != want and field not in forgiven:
                problems.append(
                    f"{name} event {number}: {field}: ours {mine!r} != Filebeat's {want!r}"
                )
    return problems


@pytest.mark.parametrize("name", sorted(FILES))
def test_enriched_fields_equal_filebeats_on_its_fixtures(name: str) -> None:
    problems = disagreements(name)
    assert not problems, "\n".join(problems)


def test_every_forgiven_difference_is_still_a_difference() -> None:
    """A forgiven field that now agrees must leave FORGIVEN (and the docs' table)."""
    for (name, number), fields in FORGIVEN.items():
        ours = enriched_events(name)[number - 1]
        theirs = orjson.loads(
            (HERE / f"{name}.expected.jsonl").read_bytes().splitlines()[number - 1]
        )
        for field in fields:
            assert ours.get(field) != theirs.get(field), (
                f"{name} event {number}: {field} agrees now"
            )
