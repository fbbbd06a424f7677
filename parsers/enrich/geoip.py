"""The `geoip` step: `<target>.geo.*` (city, region, country, continent, location) and
`<target>.as.number` / `.organization.name` of the address in `source.ip` (or the configured
field), from MaxMind-format databases (GeoLite2 / GeoIP2 / DB-IP City and ASN). Shaped like
Elasticsearch's `geoip` processor, which Filebeat's modules use: English names, the most
specific subdivision as the region (`GB-ENG`), `location` as `{lat, lon}`.

Addresses that are not global (private, loopback, link-local, reserved, ...) are skipped without
a lookup; text that is not an address is counted as failed. The databases are opened by the
agent and handed over as `GeoReader`s (parsers do no I/O); results are cached per address.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, NamedTuple, Protocol

from logship.core.record import LogEntry
from parsers.enrich.settings import GeoipStepSettings
from parsers.enrich.step import FieldSource, StepCounts, ensure


class GeoReader(Protocol):
    """An open MaxMind-format database: `maxminddb.Reader`'s lookup."""

    def get(self, ip_address: Any, /) -> Any:
        """The record of the network holding the address, or None."""
        ...


class Found(NamedTuple):
    """What the step writes for one address (None: nothing of that kind)."""

    geo: dict[str, Any] | None
    as_: dict[str, Any] | None


NOT_GLOBAL = Found(None, None)
_INVALID = None


def _name(node: Any) -> str | None:
    if isinstance(node, dict):
        names = node.get("names")
        if isinstance(names, dict):
            name = names.get("en")
            return name if isinstance(name, str) else None
    return None


def city_fields(record: Any) -> dict[str, Any] | None:
    """`geo.*` from a City database record (None when it holds nothing the step writes)."""
    if not isinstance(record, dict):
        return None
    geo: dict[str, Any] = {}
    continent = record.get("continent")
    if isinstance(continent, dict):
        if (name := _name(continent)) is not None:
            geo["continent_name"] = name
        if isinstance(code := continent.get("code"), str):
            geo["continent_code"] = code
    country = record.get("country")
    country_code = None
    if isinstance(country, dict):
        if isinstance(code := country.get("iso_code"), str):
            geo["country_iso_code"] = country_code = code
        if (name := _name(country)) is not None:
            geo["country_name"] = name
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[-1], dict):
        region = subdivisions[-1]  # the most specific one, as Elasticsearch picks it
        code = region.get("iso_code")
        if country_code is not None and isinstance(code, str):
            geo["region_iso_code"] = f"{country_code}-{code}"
        if (name := _name(region)) is not None:
            geo["region_name"] = name
    if (name := _name(record.get("city"))) is not None:
        geo["city_name"] = name
    location = record.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            geo["location"] = {"lat": lat, "lon": lon}
    return geo or None


def asn_fields(record: Any) -> dict[str, Any] | None:
    """`as.*` from an ASN database record (None when it has no number nor organization)."""
    if not isinstance(record, dict):
        return None
    out: dict[str, Any] = {}
    number = record.get("autonomous_system_number")
    if isinstance(number, int):
        out["number"] = number
    org = record.get("autonomous_system_organization")
    if isinstance(org, str):
        out["organization"] = {"name": org}
    return out or None


class GeoipStep:
    """Adds `geo` and `as` beside the address field (to `source` for `source.ip`)."""

    name = "geoip"

    def __init__(
        self,
        settings: GeoipStepSettings,
        city: GeoReader | None,
        asn: GeoReader | None,
    ) -> None:
        self.settings = settings
        self.city = city
        self.asn = asn
        self.source = FieldSource(settings.field)
        self._parent = self.source.parent
        self._target = tuple(settings.target_field.split(".")) if settings.target_field else ()
        self.lookup = functools.lru_cache(maxsize=settings.cache_size)(self._find)

    def _find(self, text: str) -> Found | None:
        """The fields for one address; NOT_GLOBAL for a private one; None for a non-address."""
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            return _INVALID
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            return NOT_GLOBAL
        geo = city_fields(self.city.get(address)) if self.city is not None else None
        as_ = asn_fields(self.asn.get(address)) if self.asn is not None else None
        return Found(geo, as_)

    def apply(self, entries: list[LogEntry], counts: StepCounts) -> None:
        """Enriches every record whose address is in a database."""
        parent, target, lookup = self._parent, self._target, self.lookup
        same = target == parent
        enriched = missed = failed = 0
        for entry, node, text in self.source.texts(entries):
            if not text:
                missed += 1
                continue
            try:
                found = lookup(text)
            except Exception:  # a damaged database answers with an error for some addresses
                failed += 1
                continue
            if found is None:
                failed += 1
                continue
            geo, as_ = found
            if geo is None and as_ is None:
                missed += 1
                continue
            out = node if same and node is not None else ensure(entry, target)
            if out is None:
                failed += 1
                continue
            # Copies: records never share mutable objects.
            if geo is not None:
                copy = geo.copy()
                location = copy.get("location")
                if location is not None:
                    copy["location"] = location.copy()
                out["geo"] = copy
            if as_ is not None:
                copy = as_.copy()
                org = copy.get("organization")
                if org is not None:
                    copy["organization"] = org.copy()
                out["as"] = copy
            enriched += 1
        counts.enriched += enriched
        counts.missed += missed
        counts.failed += failed
