"""RegexRule: a regex or grok rule, compiled once into a generated record builder.

Everything about the fields is decided at load time: which group lands at which nested path
(after `rename` and `remove`), how it is converted, which group is the timestamp, the level, the
message, which constants `add` sets. Names that do not resolve are load-time errors naming the
setting. Per line, the generated builder (`parsers.builder`) does only the work left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logship.core.record import LogEntry
from parsers.builder import BuilderError, Hook, Leaf, generate_builder
from parsers.config import RuleSettings
from parsers.conserve import append_rest, match_event
from parsers.derive import DERIVATIONS, WRITES
from parsers.fields import CONVERTERS, SYSLOG_LEVELS, FieldProcessor, nest, split_path
from parsers.grok import GrokError, GrokExpansion, GrokLibrary
from parsers.level import SYSLOG_SEVERITY_NAMES
from parsers.pattern import PatternError, RulePattern, compile_rule_pattern
from parsers.rule import (
    RuleError,
    check_add_values,
    drop_predicate,
    level_normalizer,
    reserved_reason,
    timestamp_parser,
)

_IMPLICIT_LEVEL_FIELDS = ("log.level", "level")
_FAST_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": float,
    "bool": CONVERTERS["bool"],
}


def _snippet(text: str, position: int) -> str:
    """The pattern with `<HERE>` at `position` (long patterns cut around it)."""
    before = text[:position]
    after = text[position:]
    if len(before) > 50:
        before = "..." + before[-47:]
    if len(after) > 30:
        after = after[:27] + "..."
    return f"{before}<HERE>{after}"


class RegexRule:
    """A compiled regex or grok rule (see the module docstring)."""

    substring_fields = True

    def __init__(
        self,
        settings: RuleSettings,
        library: GrokLibrary,
        default_zone: str,
        clock: Callable[[], float],
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.field_errors: dict[str, int] = {}
        self.drop_if = drop_predicate(settings)
        key = settings.kind
        self.pattern, grok_types = _compile(settings, library)
        self._fields = self.pattern.fields
        captured = self.pattern.field_names
        groups: dict[str, list[int]] = {}
        for number, name in self._fields:
            groups.setdefault(name, []).append(number)
        required = {
            n for n, nums in groups.items() if any(g in self.pattern.required for g in nums)
        }

        def must_capture(setting: str, name: str) -> None:
            if name not in groups:
                shown = ", ".join(captured) or "none"
                raise RuleError(
                    setting,
                    f"names field {name!r}, which the {key} does not capture (captured: {shown})",
                )

        types = {**grok_types, **settings.types}
        for name in settings.types:
            must_capture("types", name)
        for name in settings.map_values:
            must_capture("map_values", name)
            if name in types:
                raise RuleError(
                    "map_values", f"{name!r} also has a type; map or convert it, not both"
                )
        ts_field = self._single(
            "timestamp.field", settings.timestamp.field if settings.timestamp else []
        )
        level_field = self._single("level.field", settings.level.field if settings.level else [])
        message_field = self._single("message", settings.message or [])
        if ts_field is not None:
            must_capture("timestamp.field", ts_field)
        if level_field is not None:
            must_capture("level.field", level_field)
        elif settings.level is None:
            level_field = next((f for f in _IMPLICIT_LEVEL_FIELDS if f in groups), None)
        if message_field is not None:
            must_capture("message", message_field)
        syslog_priority = bool(settings.level and settings.level.syslog_priority)
        for role, field in (
            ("timestamp", ts_field),
            ("level", level_field),
            ("message", message_field),
        ):
            if field is not None and field in settings.map_values:
                raise RuleError("map_values", f"{field!r} is the {role} field; it cannot be mapped")
            if field is not None and field in types and not (role == "level" and syslog_priority):
                raise RuleError(
                    "types",
                    f"{field!r} is the {role} field, which `{role}:` reads; it takes no type",
                )
        special = {f for f in (ts_field, message_field) if f is not None}
        if level_field is not None and not syslog_priority:
            special.add(level_field)
        for source, target in settings.rename.items():
            must_capture("rename", source)
            if source in special:
                raise RuleError("rename", f"{source!r} is the timestamp, level or message field")
            if target in groups and target not in settings.rename and target not in settings.remove:
                raise RuleError(
                    "rename", f"renaming {source!r} to {target!r} would overwrite a captured field"
                )
        copied_into: dict[str, list[int]] = {}
        for source, target in settings.copy_fields.items():
            must_capture("copy", source)
            if source in special or target in special:
                raise RuleError(
                    "copy",
                    f"{source!r} -> {target!r}: the timestamp, level or message field cannot be copied",
                )
            if types.get(source) != types.get(target) and target in groups:
                raise RuleError(
                    "copy",
                    f"{source!r} and {target!r} must have the same type to copy one into the other",
                )
            if target in settings.copy_fields:
                raise RuleError(
                    "copy", f"{target!r} is copied itself; copy from {source!r} directly"
                )
            copied_into.setdefault(target, []).extend(groups[source])
        for name in settings.remove:
            must_capture("remove", name)
        for name in settings.derive:
            must_capture("derive", name)
            if name in special or name in settings.rename or name in settings.remove:
                raise RuleError(
                    "derive",
                    f"{name!r} is renamed, removed or the timestamp, level or message field",
                )
            if name in types or name in settings.map_values:
                raise RuleError("derive", f"{name!r} has a type or mapped values; derive from text")
        check_add_values(settings.add)
        _check_paths(key, captured)

        leaves: list[Leaf] = []
        final_paths: dict[tuple[str, ...], str] = {}
        for target, sources in copied_into.items():
            if target not in groups:  # a new field, made only of copies
                source = next(s for s, t in settings.copy_fields.items() if t == target)
                captured = [*captured, target]
                groups[target] = []
                if source in types:
                    types[target] = types[source]
            if any(s in self.pattern.required for s in sources):
                required.add(target)
            groups[target] = groups[target] + [s for s in sources if s not in groups[target]]
        for name in captured:
            if name in special or name in settings.remove:
                continue
            target = settings.rename.get(name, name)
            path = split_path(target)
            if name == "message" and message_field is None and target == "message":
                kind = "raw"  # a field named `message` is the message
            else:
                reason = reserved_reason(path)
                own_level = path == ("log", "level") and name == level_field and syslog_priority
                if (
                    reason is not None or path in (("message",), ("log", "level"))
                ) and not own_level:
                    raise RuleError(
                        "rename" if name in settings.rename else key,
                        f"field {target!r} cannot be set by a rule: "
                        f"{reason or 'use `message:` / `level:`'}",
                    )
                kind = types.get(name, "raw")
            table = settings.map_values.get(name)
            if table is not None and kind == "raw":
                leaves.append(Leaf(path, "map", tuple(groups[name]), name in required, table))
                final_paths[path] = name
                continue
            leaves.append(Leaf(path, kind, tuple(groups[name]), name in required))
            final_paths[path] = name
        if ts_field is not None:
            leaves.append(
                Leaf(("@timestamp",), "timestamp", tuple(groups[ts_field]), ts_field in required)
            )
        if level_field is not None:
            level_sources = tuple(groups[level_field])
            is_required = level_field in required
            if syslog_priority:
                for path, kind in (
                    (("log", "level"), "pri_level"),
                    (("log", "syslog", "facility", "code"), "pri_facility"),
                    (("log", "syslog", "severity", "code"), "pri_severity"),
                    (("log", "syslog", "severity", "name"), "pri_severity_name"),
                ):
                    leaves.append(Leaf(path, kind, level_sources, is_required))
            else:
                leaves.append(Leaf(("log", "level"), "level", level_sources, is_required))
        if message_field is not None:
            leaves.append(
                Leaf(("message",), "raw", tuple(groups[message_field]), message_field in required)
            )
        for name, value in settings.add.items():
            path = split_path(name)
            reason = reserved_reason(path)
            if reason is not None or path in (("message",), ("log", "level")):
                raise RuleError(
                    "add",
                    f"field {name!r} cannot be set by a rule: {reason or 'use `message:` / `level:`'}",
                )
            if path in final_paths:
                raise RuleError(
                    "add", f"{name!r} is also captured by the {key}; remove one of them"
                )
            leaves.append(Leaf(path, "const", required=True, const=value))

        self._timestamp = timestamp_parser(settings, default_zone, clock)
        self._level = level_normalizer(settings)
        self._processor = FieldProcessor(
            types=types,
            map_values=dict(settings.map_values),
            copy=dict(settings.copy_fields),
            timestamp_fields=[ts_field] if ts_field else [],
            timestamp_parser=self._timestamp,
            level_fields=[level_field] if level_field else [],
            level_normalizer=self._level,
            syslog_priority=syslog_priority,
            message_fields=[message_field] if message_field else [],
            rename=dict(settings.rename),
            remove=list(settings.remove),
            add=dict(settings.add),
            tags=settings.tags,
            field_errors=self.field_errors,
            derive=[(n, DERIVATIONS[d]) for n, d in settings.derive.items()],
        )
        try:
            self.parse, self._build, self.source, self.plan = generate_builder(
                match=self.pattern.compiled.match,
                pattern=self.pattern.compiled if self.pattern.engine == "re" else None,
                group_count=self.pattern.compiled.groups,
                leaves=leaves,
                tags=settings.tags,
                slow=self._slow,
                converters=_FAST_CONVERTERS,
                level_normalizer=self._level,
                timestamp_parser=self._timestamp,
                syslog_levels=SYSLOG_LEVELS,
                severity_names=SYSLOG_SEVERITY_NAMES,
                hooks=[
                    Hook(split_path(n), tuple(groups[n]), DERIVATIONS[d], WRITES.get(d))
                    for n, d in settings.derive.items()
                ],
            )
        except BuilderError as exc:
            raise RuleError("add" if settings.add else key, str(exc)) from None

    @staticmethod
    def _single(setting: str, names: list[str]) -> str | None:
        if len(names) > 1:
            raise RuleError(
                setting,
                "a regex or grok rule names one field here (lists of candidates are for json and logfmt rules)",
            )
        return names[0] if names else None

    def _slow(self, m: Any) -> LogEntry:
        """The generic path for a line the generated builder could not finish (a failure)."""
        groups = m.groups()
        flat: dict[str, Any] = {}
        for number, name in self._fields:
            value = groups[number - 1]
            if value is not None and name not in flat:
                flat[name] = value
        return self._processor.process(nest(flat))

    def parse_event(self, text: str) -> LogEntry | None:
        """`parse` for an event that may span lines: its continuation lines join the message
        (`parsers.conserve`)."""
        if "\n" not in text:
            return self.parse(text)
        found = match_event(self.pattern.compiled.match, text)
        if found is None:
            return None
        m, rest = found
        rec = self._build(m)
        append_rest(rec, rest)
        return rec

    def parse_generic(self, line: str) -> LogEntry | None:
        """`parse` by the generic path only (tests compare both paths)."""
        m = self.pattern.compiled.match(line)
        return None if m is None else self._slow(m)

    def refresh(self, now: float) -> None:
        """Expires date-dependent timestamp caches (once per batch)."""
        if self._timestamp is not None:
            self._timestamp.refresh(now)


def _compile(settings: RuleSettings, library: GrokLibrary) -> tuple[RulePattern, dict[str, str]]:
    if settings.grok is not None:
        try:
            expansion = library.expand(settings.grok)
        except GrokError as exc:
            raise RuleError("grok", str(exc)) from None
        try:
            return compile_rule_pattern(expansion.regex), expansion.types
        except PatternError as exc:
            raise RuleError("grok", _grok_error(settings.grok, expansion, exc)) from None
    assert settings.regex is not None
    try:
        return compile_rule_pattern(settings.regex), {}
    except PatternError as exc:
        message = str(exc)
        if exc.position is not None:
            message = f"{message}: {_snippet(settings.regex, exc.position)}"
        raise RuleError("regex", message) from None


def _grok_error(grok: str, expansion: GrokExpansion, exc: PatternError) -> str:
    reason = str(exc).split(": ", 1)[-1]
    if exc.position is None:
        return f"does not compile: {reason}"
    where = expansion.locate(exc.position)
    position = int(where.rsplit(" ", 1)[-1])
    return f"does not compile ({reason}) {where}: {_snippet(grok, position)}"


def _check_paths(key: str, names: list[str]) -> None:
    """Captured names must not make a value and an object of the same path."""
    paths = {split_path(n): n for n in names}
    for path, name in paths.items():
        for length in range(1, len(path)):
            parent = paths.get(path[:length])
            if parent is not None:
                raise RuleError(
                    key,
                    f"captures {parent!r} as a value and {name!r} below it; rename one of them",
                )
