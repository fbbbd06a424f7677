"""Kubernetes metadata wired into the pipeline: the watch (`logship.kube`), the rules pod
annotations may name, and the binding the tailer's container files use."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from logship.core.metrics import Metrics
from logship.kube.settings import KubernetesSettings
from logship.tail.pod_context import PodBinding
from parsers.compiler import compile_rule
from parsers.rule import Rule, RuleError
from parsers.section import ParsersSettings

if TYPE_CHECKING:
    from logship.kube.source import KubeMetadata


class AnnotationRules:
    """The rules `logship.io/parsers` may name: the config's and the built-in ones, each
    compiled once on first use (`logship.tail.pod_context.RuleSource`)."""

    def __init__(self, parsers: ParsersSettings, clock: Callable[[], float] = time.time) -> None:
        self.parsers = parsers
        self.clock = clock
        self._compiled: dict[str, Rule] = {}

    def rules(self, names: Sequence[str]) -> list[Rule]:
        """The rules, in order; LookupError naming the first that is unknown or does not compile."""
        out = []
        for name in names:
            rule = self._compiled.get(name)
            if rule is None:
                rule = self._compile(name)
                self._compiled[name] = rule
            out.append(rule)
        return out

    def _compile(self, name: str) -> Rule:
        parsers = self.parsers
        if parsers.entry(name) is None:
            close = difflib.get_close_matches(name, parsers.rule_names(), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise LookupError(f"unknown parser rule {name!r}{hint}")
        try:
            return compile_rule(parsers.rule(name), parsers.library, parsers.timezone, self.clock)
        except RuleError as exc:
            raise LookupError(f"rule {name!r} does not compile: {exc.key}: {exc}") from None


def kube_metadata(
    settings: KubernetesSettings | None, parsers: ParsersSettings, metrics: Metrics
) -> tuple[KubeMetadata | None, PodBinding | None]:
    """The metadata source and the tailer's binding to it, or (None, None) when not configured."""
    if settings is None:
        return None, None
    from logship.kube.source import KubeMetadata  # the client library: only when configured

    source = KubeMetadata(settings, metrics.registry)
    return source, PodBinding(source, AnnotationRules(parsers))
