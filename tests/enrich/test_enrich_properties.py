"""Enrichment never raises and never changes a field it does not own: on 100,000 lines of a real
Apache access log, and on arbitrary strings, addresses and records (hypothesis)."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from logship.app.enrich_wiring import open_database
from logship.tail.framing import LineFramer
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.enrich import EnrichChain, EnrichStepSettings
from parsers.enrich.geoip import GeoipStep
from parsers.enrich.url import UrlStep, url_parts
from parsers.enrich.user_agent import UserAgentStep
from parsers.section import ParsersSettings
from tests.enrich.conftest import ASN_DB, CITY_DB

OWNED = {
    "user_agent": {"name", "version", "os", "device"},
    "source": {"geo", "as"},
    "url": {"path", "query", "fragment", "extension", "scheme", "domain", "port"},
}
"""The keys the three steps write, under the objects they write into."""

CITY = open_database(CITY_DB)
ASN = open_database(ASN_DB)


def chain() -> EnrichChain:
    geo = EnrichStepSettings.model_validate(
        {"geoip": {"city_db": str(CITY_DB), "asn_db": str(ASN_DB)}}
    ).geoip
    assert geo is not None
    ua = EnrichStepSettings.model_validate("user_agent").user_agent
    url = EnrichStepSettings.model_validate("url").url
    assert ua is not None
    assert url is not None
    return EnrichChain([UserAgentStep(ua), UrlStep(url), GeoipStep(geo, CITY, ASN)])


ENRICH = chain()


def without_owned(record: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(record)
    for parent, keys in OWNED.items():
        node = out.get(parent)
        if isinstance(node, dict):
            for key in keys:
                node.pop(key, None)
    return out


def check_owned_shapes(record: dict[str, Any]) -> None:
    ua = record.get("user_agent")
    if isinstance(ua, dict) and "name" in ua:
        assert isinstance(ua["name"], str)
        assert ua["name"]
        assert isinstance(ua["device"]["name"], str)
    url = record.get("url")
    if isinstance(url, dict) and "path" in url:
        assert isinstance(url["path"], str)
        ext = url.get("extension")
        assert ext is None or ("/" not in ext and "." not in ext and ext)
        assert isinstance(url.get("port", 0), int)
    geo = record.get("source", {}).get("geo") if isinstance(record.get("source"), dict) else None
    if geo is not None and "location" in geo:
        assert -90 <= geo["location"]["lat"] <= 90
        assert -180 <= geo["location"]["lon"] <= 180


def test_100000_lines_of_a_real_apache_log_never_raise_and_keep_every_other_field(
    corpora: Path,
) -> None:
    text = (corpora / "elastic-examples" / "apache_access.log").read_bytes()
    section = ParsersSettings()
    parser = ParserChain([compile_rule(section.rule("apache_access"), section.library)], "h")
    framer = LineFramer(0, 1 << 20)
    lines = framer.feed(text)
    lines.extend(framer.flush())
    repeats = -(-100_000 // len(lines.texts))
    seen = enriched_ua = enriched_url = 0
    fresh = chain()
    for _ in range(repeats):
        entries, _stats = parser.parse(lines, {"path": "/var/log/apache.log"}, "t")
        before = [copy.deepcopy(e) for e in entries]
        fresh.apply(entries)
        for old, new in zip(before, entries, strict=True):
            assert without_owned(new) == old
            check_owned_shapes(new)
        seen += len(entries)
    totals = fresh.totals
    enriched_ua, enriched_url = totals["user_agent"].enriched, totals["url"].enriched
    assert seen >= 100_000
    for counts in totals.values():  # every record is counted once per step
        assert counts.enriched + counts.missed + counts.failed == seen
    assert enriched_ua > 0.9 * seen
    assert enriched_url > 0.9 * seen


records = st.fixed_dictionaries(
    {},
    optional={
        "user_agent": st.one_of(
            st.text(), st.fixed_dictionaries({"original": st.text()}, optional={"x": st.integers()})
        ),
        "url": st.one_of(
            st.integers(), st.fixed_dictionaries({"original": st.text()}, optional={"y": st.text()})
        ),
        "source": st.fixed_dictionaries(
            {
                "ip": st.one_of(
                    st.text(),
                    st.ip_addresses().map(str),
                    st.sampled_from(
                        [
                            "81.2.69.160",
                            "89.160.20.112",
                            "175.16.199.1",
                            "2a02:cf40::1",
                            "216.160.83.56",
                        ]
                    ),
                )
            },
            optional={"port": st.integers(), "address": st.text()},
        ),
        "message": st.text(),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=8))
def test_arbitrary_records_never_raise_and_only_owned_fields_change(
    batch: list[dict[str, Any]],
) -> None:
    before = copy.deepcopy(batch)
    ENRICH.apply(batch)
    for old, new in zip(before, batch, strict=True):
        assert without_owned(new) == without_owned(old)
        check_owned_shapes(new)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_url_parts_of_any_text_never_raise(text: str) -> None:
    parts = url_parts(text)
    if parts is not None:
        assert all(isinstance(v, str | int) for v in parts.values())
        assert ("query" in parts) == ("?" in text.partition("#")[0]) or "://" in text


@settings(max_examples=300, deadline=None)
@given(st.ip_addresses())
def test_geoip_of_any_address_never_raises_and_skips_non_global_ones(address: Any) -> None:
    record = {"source": {"ip": str(address)}}
    ENRICH.apply([record])
    ip = ipaddress.ip_address(str(address))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global:
        assert "geo" not in record["source"]
        assert "as" not in record["source"]
    check_owned_shapes(record)
