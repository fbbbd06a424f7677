"""`compile_rule`: settings to a compiled rule of the right kind (regex/grok, json, logfmt).

It lives apart from `parsers.rule` (the interface and the helpers the kinds share) so that the
kinds import `rule` and this module imports the kinds: no cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from parsers.config import RuleSettings
from parsers.grok import GrokLibrary
from parsers.json_rule import JsonRule
from parsers.logfmt_rule import LogfmtRule
from parsers.regex_rule import RegexRule
from parsers.rule import Rule


def compile_rule(
    settings: RuleSettings,
    library: GrokLibrary,
    default_zone: str = "UTC",
    clock: Callable[[], float] = time.time,
) -> Rule:
    """Compiles a rule; raises RuleError naming the setting and what is wrong."""
    kind = settings.kind
    if kind == "json":
        return JsonRule(settings, default_zone, clock)
    if kind == "logfmt":
        return LogfmtRule(settings, default_zone, clock)
    return RegexRule(settings, library, default_zone, clock)
