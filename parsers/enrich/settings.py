"""The `enrich:` list of an input: which steps, in which order, with which settings.

enrich:
  - user_agent                      # a step's name alone: its defaults
  - url
  - geoip:
      city_db: /var/lib/GeoIP/GeoLite2-City.mmdb
      asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from logship.core.schema import ConfigPath, StrictModel

_DOTTED = r"^[A-Za-z0-9_@]+(\.[A-Za-z0-9_@]+)*$"


class UserAgentStepSettings(StrictModel):
    """`user_agent`: ECS `user_agent.*` parsed from `field` with ua-parser."""

    field: str = Field("user_agent.original", pattern=_DOTTED)
    """The user agent string; the parsed fields go beside it (`user_agent.name`, ...)."""
    cache_size: int = Field(10_000, ge=1)
    """Distinct user agent strings whose result is kept (least recently used go first)."""


class GeoipStepSettings(StrictModel):
    """`geoip`: `<target>.geo.*` and `<target>.as.*` of the address in `field`."""

    field: str = Field("source.ip", pattern=_DOTTED)
    target: str | None = Field(None, pattern=_DOTTED)
    """Where `geo` and `as` go; by default beside `field` (`source` for `source.ip`)."""
    city_db: ConfigPath | None = Field(
        None, json_schema_extra={"expected": "the path of a MaxMind-format City database"}
    )
    asn_db: ConfigPath | None = Field(
        None, json_schema_extra={"expected": "the path of a MaxMind-format ASN database"}
    )
    cache_size: int = Field(10_000, ge=1)
    """Distinct addresses whose result is kept (least recently used go first)."""

    @model_validator(mode="after")
    def _a_database(self) -> GeoipStepSettings:
        if self.city_db is None and self.asn_db is None:
            raise ValueError(
                "expected city_db and/or asn_db: paths of MaxMind-format databases "
                "(GeoLite2-City.mmdb, GeoLite2-ASN.mmdb, or DB-IP's)"
            )
        return self

    @property
    def target_field(self) -> str:
        """The object that receives `geo` and `as`."""
        return self.target if self.target is not None else self.field.rpartition(".")[0]


class UrlStepSettings(StrictModel):
    """`url`: `url.path`, `.query`, `.extension`, `.fragment` (+ scheme, domain, port) of `field`."""

    field: str = Field("url.original", pattern=_DOTTED)


STEP_NAMES = ("user_agent", "geoip", "url")


class EnrichStepSettings(StrictModel):
    """One entry of `enrich:`: a step's name, or a mapping of one step's name to its settings."""

    user_agent: UserAgentStepSettings | None = None
    geoip: GeoipStepSettings | None = None
    url: UrlStepSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_or_mapping(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in STEP_NAMES:
                raise ValueError(
                    f"unknown enrichment step {value!r} (expected one of: {', '.join(STEP_NAMES)})"
                )
            return {value: {}}
        if isinstance(value, dict):
            if len(value) != 1:
                raise ValueError(
                    f"expected one step per entry, like `- user_agent` or `- geoip: {{city_db: ...}}` "
                    f"(got {', '.join(map(str, value)) or 'nothing'})"
                )
            # `- geoip:` with nothing under it is the step with its defaults.
            return {key: ({} if val is None else val) for key, val in value.items()}
        return value

    @property
    def name(self) -> str:
        """The step's name (the metrics label)."""
        for name in STEP_NAMES:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("a validated step has one name")  # pragma: no cover
