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
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from logship import strict_yaml
from logship.config import Config
from logship.secrets import MASK, is_secret_key


class ConfigError(Exception):
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
        return Config.model_validate(doc, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(source, [_describe(err, doc) for err in exc.errors()]) from None


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


def _describe(err: Any, doc: Any) -> str:
    loc: tuple[Any, ...] = tuple(err["loc"])
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    field_info, model, shown, label = _walk(loc, doc)
    if kind == "union_tag_invalid":
        shown = (*shown, "type")
    where = _render_loc(shown) or "<top>"
    if label:
        where = f"{where} ({label})"
    expected = (field_info.json_schema_extra or {}).get("expected") if field_info else None
    if isinstance(expected, str) and shown and isinstance(shown[-1], int):
        expected = None  # the error is about one element, not the whole list

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


def _walk(
    loc: tuple[Any, ...], doc: Any
) -> tuple[Any, type[BaseModel] | None, tuple[Any, ...], str]:
    """Follows an error location through the models and the document.

    Returns the field info of the last field named, the model that field belongs to (for
    allowed keys), and the location with pydantic's union tags removed (`sinks[0].file.path`
    becomes `sinks[0].path`), and the `name` of the innermost list entry passed through, so
    messages can say which rule or input they are about.
    """
    model: type[BaseModel] | None = Config
    annotation: Any = None
    field_info: Any = None
    owner: type[BaseModel] | None = Config
    node: Any = doc
    shown: list[Any] = []
    label = ""
    for part in loc:
        if isinstance(part, int):
            annotation = _element_type(annotation)
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
            continue  # a discriminated-union tag, not a key in the file
        owner = model
        shown.append(part)
        node = node.get(part) if isinstance(node, dict) else None
        model = None
    return field_info, owner, tuple(shown), label


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
