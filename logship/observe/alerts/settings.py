"""The `alerts:` section: alert rules and the HTTP destinations their notifications go to.

alerts:
  destinations:
    - name: oncall
      preset: slack                         # webhook | slack | alertmanager
      url: ${SLACK_WEBHOOK_URL}
  rules:
    - name: payment_errors
      inputs: [app]                         # default: every input
      when: {all: [{field: service.name, equals: payment}, {field: log.level, equals: error}]}
      threshold: count >= 20 within 60s     # or {count: 20, within: 60s}; default: every match
      group_by: [service.name, host.name]
      silence: 10m
      resolve_after: 5m
      severity: critical
      message: "{service.name}: {count} errors in {window}, last: {message}"
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from logship.core.schema import StrictModel
from logship.core.sink import BatchSettings, QueueSettings
from logship.core.units import Duration, parse_duration
from parsers.condition import ConditionSettings
from sinks.http.config import HttpSinkSettings
from sinks.template import FieldTemplate, TemplateError

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
MAX_THRESHOLD = 10_000
"""Largest `count` of a threshold: a group keeps up to about that many event times."""

ALERT_VARIABLES = frozenset({"count", "rule", "severity", "threshold", "window", "status"})
"""Names a message template may use beside record fields (they win over fields so named)."""

_THRESHOLD = re.compile(r"^\s*count\s*(>=|>)\s*(\d+)\s+within\s+(\S+)\s*$")

Preset = Literal["webhook", "slack", "alertmanager"]


def _threshold_text(value: object) -> object:
    """`count >= 20 within 60s` (or `count > 19 within 1m`) -> {count: 20, within: 60s}."""
    if not isinstance(value, str):
        return value
    m = _THRESHOLD.match(value)
    if m is None:
        raise ValueError(
            f"expected `count >= N within DURATION` like 'count >= 20 within 60s', "
            f"or a mapping {{count: 20, within: 60s}} (got {value!r})"
        )
    count = int(m.group(2)) + (1 if m.group(1) == ">" else 0)
    try:
        within = parse_duration(m.group(3))
    except ValueError as exc:
        raise ValueError(f"{exc} in {value!r}") from None
    return {"count": count, "within": within}


class ThresholdSettings(StrictModel):
    """Fire when at least `count` matching records fall in a sliding window of `within`."""

    count: int = Field(ge=1, le=MAX_THRESHOLD)
    within: Duration = Field(gt=0)


def _template(value: str) -> str:
    try:
        FieldTemplate(value)
    except TemplateError as exc:
        raise ValueError(str(exc)) from None
    return value


class AlertRuleSettings(StrictModel):
    """One alert rule (see the module docstring)."""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    description: str = ""
    inputs: list[str] = Field(default=[], json_schema_extra={"expected": "a list of input names"})
    when: ConditionSettings
    threshold: Annotated[ThresholdSettings | None, BeforeValidator(_threshold_text)] = None
    group_by: list[str] = Field(
        default=[], json_schema_extra={"expected": "a list of record field names"}
    )
    silence: Duration = 600.0
    """After a group fires, it does not fire again for this long (resolved or not)."""
    resolve_after: Duration | None = Field(None, gt=0)
    """A firing group is resolved once its threshold has not been met for this long; default:
    the threshold's window, or 5m for a rule without threshold."""
    send_resolved: bool = True
    severity: str = Field("warning", min_length=1)
    message: str = Field(
        "{rule}: {count} matching record(s) in {window}, last: {message}", min_length=1
    )
    resolve_message: str = Field("{rule}: resolved", min_length=1)
    labels: dict[str, str] = Field(
        default={}, json_schema_extra={"expected": "a mapping of label name to value"}
    )
    annotations: dict[str, str] = Field(
        default={}, json_schema_extra={"expected": "a mapping of annotation name to text"}
    )
    destinations: list[str] = Field(
        default=[], json_schema_extra={"expected": "a list of destination names"}
    )
    max_groups: int = Field(1000, ge=1, le=1_000_000)

    @field_validator("message", "resolve_message")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        return _template(value)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(
                    f"label {name!r}: expected letters, digits and _ (not starting with a digit)"
                )
        return value

    @field_validator("group_by")
    @classmethod
    def _group_fields(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a field is named twice")
        if any(not f for f in value):
            raise ValueError("expected record field names, got an empty one")
        return value

    @property
    def window(self) -> float:
        """The window in seconds (1 ms for a rule without threshold: the record itself)."""
        return self.threshold.within if self.threshold else 0.001

    @property
    def need(self) -> int:
        """Matching records in the window that make the rule fire."""
        return self.threshold.count if self.threshold else 1

    @property
    def quiet(self) -> float:
        """How long the threshold must stay unmet before a firing group resolves."""
        if self.resolve_after is not None:
            return self.resolve_after
        return self.threshold.within if self.threshold else 300.0


class AlertDestinationSettings(HttpSinkSettings):
    """Where notifications go: an `http` sink (url, headers, auth, tls, retry) plus a preset for
    the body. The queue is the bounded alert queue: when full, the oldest notification is
    dropped (and counted), never a log line."""

    type: Literal["http"] = "http"
    preset: Preset = "webhook"
    queue: QueueSettings = QueueSettings(max_events=1000, max_bytes=4 * 1024 * 1024)
    batch: BatchSettings = BatchSettings(max_events=10, linger_ms=100)
    """Notifications per send (Alertmanager: one request; the others one request each); the
    batch being sent is held beside the queue, so it counts toward what a dead webhook holds."""

    @model_validator(mode="before")
    @classmethod
    def _preset_encoding(cls, data: Any) -> Any:
        """Slack and plain webhooks take one notification per request; Alertmanager a list."""
        if isinstance(data, dict):
            if "encoding" in data:
                raise ValueError(
                    "encoding: the preset decides the body of a destination; remove `encoding`"
                )
            preset = data.get("preset", "webhook")
            data = {**data, "encoding": "json_array" if preset == "alertmanager" else "json"}
        return data


class AlertsSettings(StrictModel):
    """The `alerts:` section."""

    destinations: list[AlertDestinationSettings] = Field(
        default=[], json_schema_extra={"expected": "a list of HTTP destinations"}
    )
    rules: list[AlertRuleSettings] = Field(
        default=[], json_schema_extra={"expected": "a list of alert rules"}
    )
    tick_interval: Duration = Field(1.0, gt=0, le=60)
    """How often firing groups are checked for resolve (when logs are quiet)."""

    def __bool__(self) -> bool:
        return bool(self.rules)
