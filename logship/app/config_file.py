"""Loading the config file: YAML, `${VAR}` interpolation, validation, and errors people can act on.

Every problem is reported with the key path and what was expected, e.g.
`inputs[0].paths: expected a list of glob patterns (got str '/var/log/*.log')`, and a YAML syntax
error with its line and column. The agent refuses to start on any of them.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from logship.app.config import Config
from logship.app.rule_packs import rule_packs_context
from logship.core import strict_yaml
from logship.core.errors import LogshipError
from logship.core.secrets import MASK, is_secret_key


class ConfigError(LogshipError):
    """The config cannot be used. `problems` holds one human-readable line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return f"Invalid config {self.source}: {self.problems[0]}"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"Invalid config {self.source} ({len(self.problems)} problems):\n{lines}"


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Reads, interpolates and validates a config file; raises ConfigError on any problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(file), ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(file), [f"cannot read the file: {exc}"]) from None
    return parse_config(text, str(file), file.resolve().parent, environ)


def parse_config(
    text: str, source: str, base_dir: Path, environ: Mapping[str, str] | None = None
) -> Config:
    """Validates config text; relative paths in it resolve against `base_dir`."""
    doc = _load_yaml(text, source)
    problems: list[str] = []
    doc = _interpolate(doc, os.environ if environ is None else environ, "", problems)
    if problems:
        raise ConfigError(source, problems)
    try:
        context = {"base_dir": base_dir, **rule_packs_context(doc, base_dir)}
        return Config.model_validate(doc, context=context)
    except ValidationError as exc:
        raise ConfigError(source, _describe_all(exc.errors(), doc)) from None


# --- YAML ---------------------------------------------------------------------------------


def _load_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        doc = strict_yaml.load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [strict_yaml.describe_error(exc)]) from None
    if doc is None:
        raise ConfigError(
            source, ["the file is empty; expected the sections agent, inputs, parsers, sinks"]
        )
    if not isinstance(doc, dict):
        raise ConfigError(
            source,
            [
                f"expected a mapping with the sections agent, inputs, parsers, sinks (got {_kind(doc)})"
            ],
        )
    return doc


# --- ${VAR} interpolation -----------------------------------------------------------------

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(node: Any, environ: Mapping[str, str], path: str, problems: list[str]) -> Any:
    """Replaces `${VAR}` / `${VAR:-default}` in string values (`$$` is a literal `$`)."""
    if isinstance(node, dict):
        return {k: _interpolate(v, environ, _join(path, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, environ, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or "$" not in node:
        return node

    def substitute(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                problems.append(
                    f"{path or '<top>'}: environment variable {name} is not set "
                    f"(set it, or give a default: ${{{name}:-value}})"
                )
                return ""
            return default
        return value

    return _VAR.sub(substitute, node)


# --- validation errors --------------------------------------------------------------------

_TYPE_WORDS = {
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "path_type": "a path",
}


def _describe_all(errors: list[Any], doc: Any) -> list[str]:
    """One line per problem.

    A value that fits no member of a union (`workers: two` against `int | "auto"`) arrives as
    one error per member, located under pydantic's member names (`workers.int`,
    `workers.literal['auto']`). When a member got further into the value (a list whose item is
    wrong), only that member's errors are reported; otherwise the members' errors become one
    line saying what the key accepts.
    """
    placed = [(err, _walk(tuple(err["loc"]), doc)) for err in errors]
    went_deeper = {
        union for _, place in placed for union in place.unions if len(place.shown) > len(union)
    }
    lines: list[str] = []
    at_union: dict[tuple[Any, ...], list[tuple[Any, _Place]]] = {}
    for err, place in placed:
        if not place.unions or place.unions[-1] != place.shown:
            lines.append(_describe(err, place))
        elif place.shown not in went_deeper:
            if place.shown not in at_union:
                at_union[place.shown] = []
                lines.append("")  # filled below, keeping the order of the problems
            at_union[place.shown].append((err, place))
    merged = iter(_describe_union(members) for members in at_union.values())
    lines = [line or next(merged) for line in lines]
    return list(dict.fromkeys(lines))


def _describe_union(members: list[tuple[Any, _Place]]) -> str:
    err, place = members[0]
    expected = _expected_of(place)
    if expected is None:
        phrases = list(dict.fromkeys(_member_expects(e) for e, _ in members))
        # ", or" before the last: a phrase may contain "or" itself ("true or false")
        expected = (
            phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])}, or {phrases[-1]}"
        )
    return f"{_where(place, place.shown)}: expected {expected}{_got(err, place.shown)}"


def _member_expects(err: Any) -> str:
    """What one member of a union accepts, as words."""
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    if kind == "literal_error":
        return str(ctx.get("expected"))
    message = str(err["msg"]).removeprefix("Value error, ").removeprefix("expected ")
    return message.removeprefix("Input should be ")


def _expected_of(place: _Place) -> str | None:
    info = place.field_info
    expected = (info.json_schema_extra or {}).get("expected") if info is not None else None
    return expected if isinstance(expected, str) else None


def _where(place: _Place, shown: tuple[Any, ...]) -> str:
    where = _render_loc(shown) or "<top>"
    return f"{where} ({place.label})" if place.label else where


def _describe(err: Any, place: _Place) -> str:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    model, shown = place.owner, place.shown
    if kind == "union_tag_invalid":
        shown = (*shown, "type")
    where = _where(place, shown)
    expected = _expected_of(place)

    if kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
        if not shown:  # cross-reference problems arrive at the top, already located
            return message
        return f"{where}: {message}"
    if kind == "extra_forbidden":
        key = str(shown[-1])
        allowed = sorted(model.model_fields) if model else []
        hint = ""
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        allowed_text = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"{where}: unknown key{hint}{allowed_text}"
    if kind == "missing":
        return f"{where}: required key is missing" + (f"; expected {expected}" if expected else "")
    if kind == "union_tag_invalid":
        hint = ""
        if ctx.get("tag") == "None":
            hint = ' (YAML reads a bare null as "no value": write type: "null" in quotes)'
        return (
            f"{where}: unknown type {ctx.get('tag')!r}; "
            f"expected one of: {ctx.get('expected_tags')}{hint}"
        )
    if kind == "union_tag_not_found":
        return f"{where}: `type` is missing; expected one of the sink types"
    if kind == "literal_error":
        return f"{where}: expected one of: {ctx.get('expected')}{_got(err, shown)}"
    if kind == "too_short":
        return f"{where}: expected at least {ctx.get('min_length')} item(s){_got(err, shown)}"
    if kind == "string_too_short":
        return f"{where}: expected a non-empty string"
    if kind == "string_pattern_mismatch":
        return f"{where}: expected text matching {ctx.get('pattern')}{_got(err, shown)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = str(err["msg"]).removeprefix("Input should be ")
        return f"{where}: expected a value {words}{_got(err, shown)}"
    if kind in _TYPE_WORDS:
        return f"{where}: expected {expected or _TYPE_WORDS[kind]}{_got(err, shown)}"
    return f"{where}: {err['msg']}{_got(err, shown)}"


def _got(err: Any, shown: tuple[Any, ...]) -> str:
    if "input" not in err:
        return ""
    key = str(shown[-1]) if shown else ""
    if is_secret_key(key):
        return f" (got {MASK})"
    value = err["input"]
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f" (got {_kind(value)} {text})"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _render_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, part)
    return out


@dataclass(frozen=True, slots=True)
class _Place:
    """Where an error lies, in the terms of the file."""

    field_info: Any
    """The field the error is about, when it is about the whole field (not an item of it)."""
    owner: type[BaseModel] | None
    """The model the last key belongs to (for the allowed keys)."""
    shown: tuple[Any, ...]
    """The location as written in the file: pydantic's union member names removed."""
    label: str
    """The `name` of the innermost list entry passed through (which rule, which input)."""
    unions: tuple[tuple[Any, ...], ...]
    """The shown locations at which a union member name was removed."""


def _walk(loc: tuple[Any, ...], doc: Any) -> _Place:
    """Follows an error location through the models and the document.

    Union member names are removed from the location: a discriminated union's tag
    (`sinks[0].file.path` becomes `sinks[0].path`) and the member names of other unions
    (`agent.workers.int` becomes `agent.workers`, remembered in `unions`).
    """
    model: type[BaseModel] | None = Config
    annotation: Any = None
    field_info: Any = None
    owner: type[BaseModel] | None = Config
    node: Any = doc
    shown: list[Any] = []
    unions: list[tuple[Any, ...]] = []
    label = ""
    for part in loc:
        if isinstance(part, int):
            if model is not None and "rules" in model.model_fields and isinstance(node, list):
                annotation = model.model_fields["rules"].annotation  # `parsers: [...]` shorthand
            annotation = _element_type(annotation)
            field_info = None
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                label = node["name"]
            model = _model_in(annotation, node)
            shown.append(part)
            continue
        if model is not None and part in model.model_fields:
            owner = model
            field_info = model.model_fields[part]
            annotation = field_info.annotation
            node = node.get(part) if isinstance(node, dict) else None
            model = _model_in(annotation, node)
            shown.append(part)
            continue
        if isinstance(node, dict) and node.get("type") == part:
            annotation = model  # the member chosen by the tag
            continue  # a discriminated-union tag, not a key in the file
        members = _union_members(annotation)
        if members:  # pydantic names the member it tried: not a key in the file
            unions.append(tuple(shown))
            annotation = _member_named(members, part)
            model = _model_in(annotation, node)
            continue
        element = _strip_annotated(annotation)
        if typing.get_origin(element) is dict and len(typing.get_args(element)) == 2:
            annotation = typing.get_args(element)[1]  # a key of a mapping: its value's type
        else:
            annotation = None
            owner = model
        field_info = None
        shown.append(part)
        node = node.get(part) if isinstance(node, dict) else None
        model = _model_in(annotation, node) if annotation is not None else None
    return _Place(field_info, owner, tuple(shown), label, tuple(unions))


def _union_members(annotation: Any) -> list[Any]:
    """The members of a union other than None (empty when `annotation` is not such a union)."""
    annotation = _strip_annotated(annotation)
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return []
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    return members if len(members) > 1 else []


def _member_named(members: list[Any], name: str) -> Any:
    """The member pydantic calls `name` (`int`, `constrained-int`, `list[...]`, a model's name)."""
    head = name.split("[", 1)[0].removeprefix("constrained-").lower()
    for member in members:
        bare = _strip_annotated(member)
        origin = typing.get_origin(bare)
        if origin is typing.Literal:
            member_head = "literal"
        elif origin is not None:
            member_head = getattr(origin, "__name__", "")
        else:
            member_head = getattr(bare, "__name__", "")
        if member_head.lower() == head:
            return member
    return None


def _element_type(annotation: Any) -> Any:
    annotation = _strip_annotated(annotation)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (list, tuple) and args:
        return args[0]
    if typing.get_origin(annotation) is dict and len(args) == 2:
        return args[1]
    return None


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _model_in(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The model class an annotation stands for, choosing a union member by the node's `type`."""
    annotation = _strip_annotated(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [
            _strip_annotated(a)
            for a in typing.get_args(annotation)
            if inspect.isclass(_strip_annotated(a)) and issubclass(_strip_annotated(a), BaseModel)
        ]
        tag = node.get("type") if isinstance(node, dict) else None
        for member in members:
            type_field = member.model_fields.get("type")
            if type_field is not None and tag in typing.get_args(type_field.annotation):
                return typing.cast(type[BaseModel], member)
        if len(members) == 1:
            return typing.cast(type[BaseModel], members[0])
    return None
