"""Pod context for container files: what the tailer asks the Kubernetes metadata source
(`PodSource`, implemented by `logship.kube`, wired by the agent) and how one file applies it.

A container file (a path `logship.tail.container` recognises) gets its pod's metadata merged
into its records, and the pod's `logship.io/*` annotations choose its parser rules, multiline
preset, or exclude it. A file whose pod is not in the cache yet is not read for at most the
source's `wait` (its lines wait in the file, nothing is held in memory), then ships with what
its path says and the tag `kubernetes_metadata_missing`; metadata that arrives later applies
from the next chunk on. Annotation changes apply to lines read after the watch event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, get_args

from logship.core.lines import Lines
from logship.core.record import LogEntry
from logship.tail.multiline import MultilineSettings, Preset
from logship.tail.settings import InputSettings
from parsers.chain import ChainStats, ParserChain
from parsers.rule import Rule

MISSING_TAG = "kubernetes_metadata_missing"
EXCLUDED = "logship.io/exclude"
"""The `rule` label of `logship_records_dropped` for lines of excluded containers."""
PRESETS: tuple[str, ...] = get_args(Preset)
WAIT_POLL = 0.05
"""Seconds between two looks at the cache while a file waits for its pod."""
_MAX_CACHED = 512


class PodView(Protocol):
    """One container's metadata (`logship.kube.objects.ContainerView`)."""

    @property
    def namespace(self) -> str: ...
    @property
    def pod(self) -> str: ...
    @property
    def fields(self) -> dict[str, Any]:
        """`kubernetes.*` and `container.*`, merged into every record."""

    @property
    def parsers(self) -> tuple[str, str] | None:
        """(annotation key, value) of `logship.io/parsers[-<container>]`, if set."""

    @property
    def multiline(self) -> tuple[str, str] | None: ...
    @property
    def exclude(self) -> tuple[str, str] | None: ...


class PodSource(Protocol):
    """Where the tailer finds a container's pod (`logship.kube.source.KubeMetadata`)."""

    @property
    def wait(self) -> float:
        """Seconds a new file waits for its pod to reach the cache."""

    @property
    def reachable(self) -> bool:
        """False while the API fails: waiting would only delay lines."""

    def lookup(self, namespace: str, pod: str, uid: str | None, container: str) -> PodView | None:
        """The container's metadata, or None while its pod is unknown."""

    def without_metadata(self, lines: int) -> None:
        """Counts lines shipped with only their path's metadata."""

    def annotation_error(
        self, namespace: str, pod: str, annotation: str, value: str, problem: str
    ) -> None:
        """Counts (and logs once) an annotation that cannot be followed."""


class RuleSource(Protocol):
    """The parser rules an annotation may name (the config's rules and the built-in packs)."""

    def rules(self, names: Sequence[str]) -> list[Rule]:
        """The compiled rules, in order; LookupError saying why for a name that cannot be used."""


class PodChain(ParserChain):
    """An input's chain as one pod's annotations make it: other rules, excluded, or tagged
    because the pod's metadata is missing."""

    def __init__(
        self,
        base: ParserChain,
        rules: Sequence[Rule],
        *,
        exclude: bool = False,
        missing: PodSource | None = None,
    ) -> None:
        super().__init__(
            rules,
            base.host_name,
            on_no_match=base.on_no_match,
            redactor=base.redactor,
            keep_original=base.keep_original,
            clock=base.clock,
            stamp=base.stamp,
        )
        self.enrichment = base.enrichment
        self.base = base
        """Kept alive with this chain: `PodBinding` caches by id(base), never reused meanwhile."""
        self.exclude = exclude
        self.missing = missing

    def parse(
        self,
        lines: Lines,
        file_info: dict[str, str],
        read_time: str,
        file_fields: dict[str, Any] | None = None,
    ) -> tuple[list[LogEntry], ChainStats]:
        """As `ParserChain.parse`; excluded lines become no records (counted as dropped)."""
        if self.exclude:
            stats = ChainStats()
            if lines.texts:
                stats.dropped[EXCLUDED] = len(lines.texts)
            return [], stats
        entries, stats = super().parse(lines, file_info, read_time, file_fields)
        if self.missing is not None and entries:
            for rec in entries:
                tags = rec.get("tags")
                if isinstance(tags, list):
                    rec["tags"] = [*tags, MISSING_TAG]  # a new list: stamps may share theirs
                else:
                    rec["tags"] = [tags, MISSING_TAG] if tags else [MISSING_TAG]
            self.missing.without_metadata(len(entries))
        return entries, stats


class PodBinding:
    """The agent's pod source and the rules annotations may name, shared by every container
    file; builds each (input chain, annotation) chain once, not per file or per line."""

    def __init__(self, source: PodSource, rules: RuleSource) -> None:
        self.source = source
        self.rules = rules
        self._chains: dict[tuple[int, tuple[str, ...] | None, bool, bool], ParserChain] = {}
        self._settings: dict[tuple[int, str], InputSettings] = {}

    def reload(self, rules: RuleSource) -> None:
        """Annotations name these rules from now on (a config reload); files re-apply theirs."""
        self.rules = rules
        self._chains.clear()

    def chain(
        self, base: ParserChain, names: tuple[str, ...] | None, exclude: bool, missing: bool
    ) -> ParserChain:
        """`base` with these rules (None: its own), excluded, or tagged as missing metadata."""
        if names is None and not exclude and not missing:
            return base
        key = (id(base), names, exclude, missing)
        found = self._chains.get(key)
        if found is None:
            if len(self._chains) >= _MAX_CACHED:  # old inputs' chains after reloads
                self._chains.clear()
            rules = base.rules if names is None else self.rules.rules(names)
            found = PodChain(base, rules, exclude=exclude, missing=self.source if missing else None)
            self._chains[key] = found
        return found

    def settings(self, base: InputSettings, preset: str | None) -> InputSettings:
        """`base` with the multiline preset an annotation names (None: `base` itself)."""
        if preset is None:
            return base
        key = (id(base), preset)
        found = self._settings.get(key)
        if found is None:
            if len(self._settings) >= _MAX_CACHED:
                self._settings.clear()
            current = base.multiline
            multiline = (
                current.model_copy(update={"preset": preset, "pattern": None})
                if current is not None
                else MultilineSettings(preset=preset)
            )
            found = base.model_copy(update={"multiline": multiline})
            self._settings[key] = found
        return found


_UNSET: Any = object()


class FilePod:
    """One container file's pod: whether its lines wait, and what its records get."""

    __slots__ = (
        "_applied_base",
        "_applied_view",
        "_latest",
        "binding",
        "container",
        "first_seen",
        "namespace",
        "path_fields",
        "pod",
        "uid",
    )

    def __init__(self, binding: PodBinding, path_fields: dict[str, Any], now: float) -> None:
        kube = path_fields["kubernetes"]
        self.binding = binding
        self.namespace: str = kube["namespace"]
        self.pod: str = kube["pod"]["name"]
        self.uid: str | None = kube["pod"].get("uid")
        self.container: str = kube["container"]["name"]
        self.path_fields = path_fields
        self.first_seen = now
        self._latest: PodView | None = None
        self._applied_view: Any = _UNSET
        self._applied_base: ParserChain | None = None

    def waiting(self, now: float) -> bool:
        """True while the file should not be read yet: its pod is unknown, the API answers,
        and it has waited less than the source's `wait`."""
        source = self.binding.source
        self._latest = source.lookup(self.namespace, self.pod, self.uid, self.container)
        if self._latest is not None:
            return False
        return source.reachable and now - self.first_seen < source.wait

    def changed(self, base: ParserChain) -> bool:
        """True when the pod (or the input's chain) changed since `apply`."""
        return self._latest is not self._applied_view or base is not self._applied_base

    def reset(self) -> None:
        """Forget what was applied (the file was rebound to a reloaded input)."""
        self._applied_view = _UNSET

    def apply(
        self, base: ParserChain, settings: InputSettings
    ) -> tuple[dict[str, Any], ParserChain, InputSettings]:
        """(fields, chain, settings) for the file's next lines, from the last `waiting` look."""
        view = self._latest
        self._applied_view, self._applied_base = view, base
        binding = self.binding
        if view is None:
            return self.path_fields, binding.chain(base, None, False, True), settings
        names = self._parsers(view)
        exclude = self._exclude(view)
        preset = self._preset(view)
        return (
            view.fields,
            binding.chain(base, names, exclude, False),
            binding.settings(settings, preset),
        )

    def _error(self, view: PodView, hint: tuple[str, str], problem: str) -> None:
        self.binding.source.annotation_error(view.namespace, view.pod, hint[0], hint[1], problem)

    def _parsers(self, view: PodView) -> tuple[str, ...] | None:
        if view.parsers is None:
            return None
        names = tuple(n.strip() for n in view.parsers[1].split(",") if n.strip())
        if not names:
            self._error(view, view.parsers, "expected rule names separated by commas")
            return None
        try:
            self.binding.rules.rules(names)  # compiled once (cached by the rule source)
        except LookupError as exc:
            self._error(view, view.parsers, str(exc.args[0]) if exc.args else repr(exc))
            return None
        return names

    def _exclude(self, view: PodView) -> bool:
        if view.exclude is None:
            return False
        value = view.exclude[1].strip().lower()
        if value in ("true", "false"):
            return value == "true"
        self._error(view, view.exclude, 'expected "true" or "false"')
        return False

    def _preset(self, view: PodView) -> str | None:
        if view.multiline is None:
            return None
        value = view.multiline[1].strip()
        if value in PRESETS:
            return value
        self._error(view, view.multiline, f"unknown multiline preset (known: {', '.join(PRESETS)})")
        return None
