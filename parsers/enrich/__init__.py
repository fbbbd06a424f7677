"""Enrichment: steps that add fields to parsed records, per input (`enrich:`), after the parser
chain and per batch: `user_agent` (ua-parser), `geoip` (MaxMind-format databases), `url` (URL
parts, as Elasticsearch's `uri_parts` processor gives them).

Like the rest of `parsers`, nothing here does I/O: the agent opens the GeoIP databases
(`logship.app.enrich_wiring`) and hands the open readers to the `geoip` step.
"""

from parsers.enrich.settings import EnrichStepSettings
from parsers.enrich.step import EnrichChain, Step, StepCounts

__all__ = ["EnrichChain", "EnrichStepSettings", "Step", "StepCounts"]
