"""Builds each input's enrichment chain (`enrich:`): opens the GeoIP databases (the I/O the
`parsers.enrich` steps must not do), and binds the steps' counts to the agent's metrics.

Called wherever parser chains are built for running (`Pipeline`, also on reload, so a SIGHUP
re-opens the database files and a weekly update needs no restart) and by `logship parse`;
`preflight` uses `database_problems` so `check` refuses what `run` would refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from logship.app.config import Config
from logship.state.data_dir import StartupError
from logship.tail.settings import InputSettings
from parsers.enrich import EnrichChain, Step, StepCounts
from parsers.enrich.geoip import GeoipStep, GeoReader
from parsers.enrich.url import UrlStep
from parsers.enrich.user_agent import UserAgentStep

if TYPE_CHECKING:
    from logship.core.metrics import Metrics
    from parsers.chain import ParserChain


def open_database(path: Path) -> GeoReader:
    """A memory-mapped MaxMind-format reader (C extension when available). Raises OSError, or
    InvalidDatabaseError (a RuntimeError) for a file that is not a MaxMind database."""
    import maxminddb

    reader: GeoReader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
    return reader


def _open(key: str, path: Path, kind: str) -> GeoReader:
    try:
        reader = open_database(path)
    except (OSError, ValueError, RuntimeError) as exc:  # maxminddb: InvalidDatabaseError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StartupError(
            f"{key}: cannot read {path} as a MaxMind-format {kind} database: {reason}"
        ) from None
    database_type = str(getattr(getattr(reader, "metadata", lambda: None)(), "database_type", ""))
    if database_type and kind.lower() not in database_type.lower():
        raise StartupError(
            f"{key}: {path} is a {database_type} database; expected a {kind} database "
            f"(like GeoLite2-{kind}.mmdb)"
        )
    return reader


def build_enrichment(
    index: int, settings: InputSettings, metrics: Metrics | None = None
) -> EnrichChain | None:
    """The input's enrichment chain (None without `enrich:`). Raises StartupError naming the
    key of a database that cannot be read."""
    steps_settings = settings.enrich
    if not steps_settings:
        return None
    steps: list[Step] = []
    for j, entry in enumerate(steps_settings):
        key = f"inputs[{index}].enrich[{j}]"
        if entry.user_agent is not None:
            steps.append(UserAgentStep(entry.user_agent))
        elif entry.url is not None:
            steps.append(UrlStep(entry.url))
        elif entry.geoip is not None:
            geo = entry.geoip
            city = _open(f"{key}.geoip.city_db", geo.city_db, "City") if geo.city_db else None
            asn = _open(f"{key}.geoip.asn_db", geo.asn_db, "ASN") if geo.asn_db else None
            steps.append(GeoipStep(geo, city, asn))
    report = None
    if metrics is not None:
        counter = metrics.enrich_records
        name = settings.name

        def report(step: str, counts: StepCounts) -> None:
            for outcome in ("enriched", "missed", "failed"):
                n = getattr(counts, outcome)
                if n:
                    counter.labels(name, step, outcome).inc(n)

    return EnrichChain(steps, report)


def attach_enrichment(
    config: Config, chains: dict[str, ParserChain], metrics: Metrics | None = None
) -> dict[str, ParserChain]:
    """Gives every input's chain its enrichment (the agent runs it after parsing, per batch)."""
    for index, inp in enumerate(config.inputs):
        chains[inp.name].enrichment = build_enrichment(index, inp, metrics)
    return chains


def database_problems(config: Config) -> Iterator[str]:
    """Why a configured GeoIP database cannot be used, per database (for `check` and `run`)."""
    for index, inp in enumerate(config.inputs):
        for j, entry in enumerate(inp.enrich):
            geo = entry.geoip
            if geo is None:
                continue
            for name, path, kind in (
                ("city_db", geo.city_db, "City"),
                ("asn_db", geo.asn_db, "ASN"),
            ):
                if path is None:
                    continue
                try:
                    _open(f"inputs[{index}].enrich[{j}].geoip.{name}", path, kind)
                except StartupError as exc:
                    yield str(exc)
