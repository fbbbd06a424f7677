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

from logship.record import LogEntry
from parsers.enrich.settings import UserAgentStepSettings
from parsers.enrich.step import StepCounts, ensure, split_field, string_at


class Parsed(NamedTuple):
    """What the step writes for one user agent string (None: left out)."""

    name: str
    version: str | None
    os_name: str | None
    os_version: str | None
    device_name: str


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
    name = ua.family if ua is not None and ua.family else "Other"
    version = _version(ua.major, ua.minor, ua.patch, ua.patch_minor) if ua is not None else None
    os_name = os_.family if os_ is not None and os_.family and os_.family != "Other" else None
    os_version = (
        _version(os_.major, os_.minor, os_.patch, os_.patch_minor)
        if os_ is not None and os_name
        else None
    )
    device_name = device.family if device is not None and device.family else "Other"
    return Parsed(name, version, os_name, os_version, device_name)


class UserAgentStep:
    """Adds ECS user agent fields beside `user_agent.original` (or the configured field)."""

    name = "user_agent"

    def __init__(self, settings: UserAgentStepSettings, resolver: Resolver | None = None) -> None:
        self.settings = settings
        self._parent, self._leaf = split_field(settings.field)
        resolver = resolver if resolver is not None else default_resolver()
        self.lookup = functools.lru_cache(maxsize=settings.cache_size)(
            functools.partial(parse_with, resolver)
        )

    def apply(self, entries: list[LogEntry], counts: StepCounts) -> None:
        """Enriches every record that has a user agent string."""
        parent, leaf, dotted, lookup = self._parent, self._leaf, self.settings.field, self.lookup
        for entry in entries:
            node, text = string_at(entry, parent, leaf, dotted)
            if not text:
                counts.missed += 1
                continue
            try:
                parsed = lookup(text)
            except Exception:  # a library bug on one odd string must not stop the batch
                counts.failed += 1
                continue
            if node is None:
                node = ensure(entry, parent)
                if node is None:
                    counts.failed += 1
                    continue
            node["name"] = parsed.name
            if parsed.version is not None:
                node["version"] = parsed.version
            if parsed.os_name is not None:
                os_: dict[str, str] = {"name": parsed.os_name}
                if parsed.os_version is not None:
                    os_["version"] = parsed.os_version
                    os_["full"] = f"{parsed.os_name} {parsed.os_version}"
                node["os"] = os_
            node["device"] = {"name": parsed.device_name}
            counts.enriched += 1
