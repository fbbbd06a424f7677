"""The agent's config: typed settings for the `agent`, `inputs`, `parsers`, `sinks`, `metrics`
and `alerts` sections.

Loading (YAML, `${VAR}` interpolation, error messages) lives in `logship.app.config_file`.
"""

from __future__ import annotations

import difflib
import socket
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from logship.app.exactly_once import delivery_problems
from logship.app.routes import routing_problems
from logship.app.sink_registry import SinkSettingsUnion
from logship.core.schema import ConfigPath, StrictModel, check_unique_names
from logship.core.units import Duration
from logship.kube.settings import KubernetesSettings
from logship.observe.alerts.checks import alert_problems
from logship.observe.alerts.settings import AlertsSettings
from logship.observe.derived_metrics import DerivedMetricSettings, name_clashes
from logship.tail.settings import InputSettings
from parsers.section import ParsersSettings, unknown_key_message


class HttpSettings(StrictModel):
    """`agent.http`: the endpoint serving /metrics, /healthz, /readyz and /status."""

    address: str | None = Field(
        "127.0.0.1:9600",
        json_schema_extra={"expected": "host:port, or null to turn the endpoint off"},
    )
    stall_timeout: Duration = Field(60.0, gt=0)
    """A thread with work to do that shows no progress for this long (beyond its own longest
    legitimate wait) makes /healthz fail."""

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_address(value)
        return value

    @property
    def host_port(self) -> tuple[str, int] | None:
        """(host, port) to bind, or None when the endpoint is off."""
        return None if self.address is None else split_address(self.address)


def split_address(address: str) -> tuple[str, int]:
    """`127.0.0.1:9600` -> ("127.0.0.1", 9600); `[::1]:9600` -> ("::1", 9600). ValueError otherwise."""
    host, sep, port = address.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(
            f"expected host:port like 127.0.0.1:9600 (0.0.0.0:9600 listens on every interface), "
            f"or null to turn the endpoint off (got {address!r})"
        )
    return host, int(port)


class AgentSettings(StrictModel):
    """The `agent:` section: where state lives and how the agent runs."""

    data_dir: ConfigPath = Field(
        default_factory=lambda: ConfigPath("./data"),
        json_schema_extra={"expected": "a folder path"},
    )
    host_name: str = Field(default_factory=socket.gethostname, min_length=1)
    checkpoint_interval: Duration = Field(1.0, gt=0)
    shutdown_timeout: Duration = Field(20.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_open_files: int = Field(1024, ge=1)
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto", json_schema_extra={"expected": 'a positive integer or "auto"'}
    )
    clean_removed_after: Duration = Field(3600.0, gt=0)
    http: HttpSettings = Field(default_factory=HttpSettings)
    name: str | None = Field(None, min_length=1)
    """`agent.name` of every record; default: the host name (as Filebeat does)."""
    metadata: bool = True
    """Every record carries `ecs.version` and `agent.type`, `.version`, `.name` (parsers.stamp)."""
    kubernetes: KubernetesSettings | None = None
    """Pod metadata and annotations for container files, from the API (logship.kube)."""


class Config(StrictModel):
    """The whole agent config."""

    agent: AgentSettings = Field(default_factory=AgentSettings)
    inputs: list[InputSettings] = Field(
        min_length=1, json_schema_extra={"expected": "a list of inputs"}
    )
    parsers: ParsersSettings = Field(
        default_factory=ParsersSettings,
        json_schema_extra={
            "expected": "a list of parser rules, or a mapping with rules, include, patterns, "
            "redact, timezone"
        },
    )
    sinks: list[SinkSettingsUnion] = Field(
        min_length=1, json_schema_extra={"expected": "a list of sinks"}
    )
    metrics: list[DerivedMetricSettings] = Field(
        default=[], json_schema_extra={"expected": "a list of log-derived metrics"}
    )
    alerts: AlertsSettings = Field(
        default_factory=AlertsSettings,
        json_schema_extra={"expected": "a mapping with rules and destinations"},
    )

    @field_validator("parsers", mode="wrap")
    @classmethod
    def _rules_shorthand(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """`parsers: [rule, ...]` is short for `parsers: {rules: [...]}`; errors keep the short path."""
        if not isinstance(value, list):
            return handler(value)
        try:
            return handler({"rules": value})
        except ValidationError as exc:
            errors = []
            for err in exc.errors():
                loc = tuple(err["loc"][1:]) if err["loc"][:1] == ("rules",) else err["loc"]
                kind, msg, ctx = err["type"], err["msg"], err.get("ctx")
                if kind == "extra_forbidden":  # the formatter cannot see the rule model here
                    kind, msg, ctx = "value_error", f"Value error, {unknown_key_message(loc)}", None
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(kind, msg, ctx), loc=loc, input=err.get("input")
                    )
                )
            raise ValidationError.from_exception_data(exc.title, errors) from None

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        problems: list[str] = []
        check_unique_names(problems, "inputs", [i.name for i in self.inputs])
        check_unique_names(problems, "sinks", [s.name for s in self.sinks])
        check_unique_names(problems, "metrics", [m.name for m in self.metrics])
        problems += name_clashes(self.metrics)
        rules = self.parsers.rule_names()
        for i, inp in enumerate(self.inputs):
            for j, name in enumerate(inp.parsers):
                entry = self.parsers.entry(name)
                if entry is None:
                    close = difflib.get_close_matches(name, rules, n=3)
                    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
                    problems.append(
                        f"inputs[{i}].parsers[{j}]: unknown parser rule {name!r} ({hint}"
                        f"defined: your rules under `parsers:` and the built-in ones: "
                        f"{', '.join(rules)})"
                    )
                elif entry.builtin:
                    problem = self.parsers.check_builtin(name)
                    if problem:
                        problems.append(f"inputs[{i}].parsers[{j}]: {problem}")
        inputs = {i.name for i in self.inputs}
        for i, metric in enumerate(self.metrics):
            for j, name in enumerate(metric.inputs):
                if name not in inputs:
                    problems.append(
                        f"metrics[{i}].inputs[{j}]: unknown input {name!r} "
                        f"(defined: {', '.join(sorted(inputs))})"
                    )
        problems += routing_problems(self.inputs, self.sinks)
        problems += delivery_problems(self.sinks, self.agent.workers)
        problems += alert_problems(
            self.alerts, [s.name for s in self.sinks], self.inputs, self.parsers
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self
