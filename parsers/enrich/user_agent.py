"""The `user_agent` step: ECS `user_agent.name`, `.version`, `.os.name`, `.os.version`,
`.os.full`, `.device.name` from the user agent string, with ua-parser (uap-core's rules; its
Rust resolver `ua-parser-rs` when installed). Shaped like Elasticsearch's `user_agent`
processor, which Filebeat's modules use: `name` and `device.name` are "Other" when unknown,
versions join the numbers that are known with dots.

Real traffic repeats a few hundred agents, so results are cached by string (bounded LRU): a
cached agent costs a dict lookup and the few small dicts of the record.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, NamedTuple, Protocol

from logship.core.record import LogEntry
from parsers.enrich.settings import UserAgentStepSettings
from parsers.enrich.step import FieldSource, StepCounts, ensure


class Parsed(NamedTuple):
    """What the step writes for one user agent string, ready to copy into a record."""

    top: dict[str, str]
    """`name`, and `version` when known."""
    os: dict[str, str] | None
    device: dict[str, str]


class Resolver(Protocol):
    """ua-parser's resolver interface: `(ua, Domain.ALL)` -> a result with `user_agent`,
    `os`, `device` (each None when no rule matched)."""

    def __call__(self, ua: str, domains: Any, /) -> Any: ...


_lock = threading.Lock()
_default: Resolver | None = None


def default_resolver() -> Resolver:
    """ua-parser's best resolver over its built-in rules, built once per process (~0.3 s)."""
    global _default
    with _lock:
        if _default is None:
            import ua_parser

            lazy = ua_parser.RegexResolver is not None or ua_parser.Re2Resolver is not None
            matchers = ua_parser.load_lazy_builtins() if lazy else ua_parser.load_builtins()
            _default = ua_parser.BestAvailableResolver(matchers)
        return _default


def basic_resolver() -> Resolver:
    """ua-parser's pure-Python resolver (no native accelerator), for comparison."""
    import ua_parser

    return ua_parser.BasicResolver(ua_parser.load_builtins())


def _version(*parts: str | None) -> str | None:
    """`"49", "0", None` -> "49.0": the parts up to the first missing one."""
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out) if out else None


def parse_with(resolver: Resolver, text: str) -> Parsed:
    """The step's fields for one user agent string."""
    from ua_parser import Domain

    result = resolver(text, Domain.ALL)
    ua, os_, device = result.user_agent, result.os, result.device
    top = {"name": ua.family if ua is not None and ua.family else "Other"}
    if ua is not None and (version := _version(ua.major, ua.minor, ua.patch, ua.patch_minor)):
        top["version"] = version
    os_fields = None
    if os_ is not None and os_.family and os_.family != "Other":
        os_fields = {"name": os_.family}
        if os_version := _version(os_.major, os_.minor, os_.patch, os_.patch_minor):
            os_fields["version"] = os_version
            os_fields["full"] = f"{os_.family} {os_version}"
    device_name = device.family if device is not None and device.family else "Other"
    return Parsed(top, os_fields, {"name": device_name})


class UserAgentStep:
    """Adds ECS user agent fields beside `user_agent.original` (or the configured field)."""

    name = "user_agent"

    def __init__(self, settings: UserAgentStepSettings, resolver: Resolver | None = None) -> None:
        self.settings = settings
        self.source = FieldSource(settings.field)
        self._parent = self.source.parent
        resolver = resolver if resolver is not None else default_resolver()
        self.lookup = functools.lru_cache(maxsize=settings.cache_size)(
            functools.partial(parse_with, resolver)
        )

    def apply(self, entries: list[LogEntry], counts: StepCounts) -> None:
        """Enriches every record that has a user agent string."""
        parent, lookup = self._parent, self.lookup
        enriched = missed = failed = 0
        for entry, found_in, text in self.source.texts(entries):
            if not text:
                missed += 1
                continue
            try:
                first, os_, device = lookup(text)
            except Exception:  # a library bug on one odd string must not stop the batch
                failed += 1
                continue
            node = found_in if found_in is not None else ensure(entry, parent)
            if node is None:
                failed += 1
                continue
            # Copies: records never share mutable objects (sinks and observers hold them).
            node.update(first)
            if os_ is not None:
                node["os"] = os_.copy()
            node["device"] = device.copy()
            enriched += 1
        counts.enriched += enriched
        counts.missed += missed
        counts.failed += failed
