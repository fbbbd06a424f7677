"""Helpers for the enrichment tests: configs with `enrich:`, MaxMind's test databases."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
CITY_DB = DATA / "GeoLite2-City-Test.mmdb"
ASN_DB = DATA / "GeoLite2-ASN-Test.mmdb"
