"""The Alertmanager preset: what logship POSTs to /api/v2/alerts validates against the API's schema.

The fixture is the `postableAlerts` part of Alertmanager's OpenAPI spec (api/v2/openapi.yaml:
postableAlerts -> postableAlert = {startsAt, endsAt, annotations} + alert = {labels (required),
generatorURL}; labelSet = string values), plus what Alertmanager checks beyond the schema when
it validates an alert: label names like Prometheus' (legacy validation), at least one label,
and startsAt not after endsAt.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pytest

from logship.core.record import format_epoch
from logship.observe.alerts.engine import AlertEngine
from logship.observe.alerts.notification import Notification
from logship.observe.alerts.presets import alertmanager, label_name
from logship.observe.alerts.settings import AlertRuleSettings

LABEL_SET = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "propertyNames": {"pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
}
POSTABLE_ALERTS = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {
        "labelSet": LABEL_SET,
        "alert": {
            "type": "object",
            "properties": {
                "labels": {"allOf": [{"$ref": "#/definitions/labelSet"}, {"minProperties": 1}]},
                "generatorURL": {"type": "string", "format": "uri"},
            },
            "required": ["labels"],
        },
        "postableAlert": {
            "allOf": [
                {
                    "type": "object",
                    "properties": {
                        "startsAt": {"type": "string", "format": "date-time"},
                        "endsAt": {"type": "string", "format": "date-time"},
                        "annotations": {"$ref": "#/definitions/labelSet"},
                    },
                },
                {"$ref": "#/definitions/alert"},
            ]
        },
    },
    "type": "array",
    "items": {"$ref": "#/definitions/postableAlert"},
}

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 date-time, as Go's strfmt.DateTime parses it."""
    if not isinstance(value, str) or "T" not in value:
        return False
    parsed = dt.datetime.fromisoformat(value)
    return parsed.tzinfo is not None


def validate(alerts: list[dict[str, Any]]) -> None:
    jsonschema.Draft7Validator(POSTABLE_ALERTS, format_checker=FORMATS).validate(alerts)
    for alert in alerts:
        starts = dt.datetime.fromisoformat(alert["startsAt"])
        ends = dt.datetime.fromisoformat(alert["endsAt"])
        assert starts <= ends, "startsAt must not be after endsAt"


T0 = 1_764_000_000.0


def notifications() -> list[Notification]:
    sent: list[Notification] = []
    clock = [T0]
    rules = [
        AlertRuleSettings.model_validate(
            {
                "name": "payment-errors.v2",
                "description": "Payment failures",
                "when": {"field": "log.level", "equals": "error"},
                "threshold": "count >= 3 within 1m",
                "group_by": ["service.name", "k8s.pod-name", "1st"],
                "labels": {"team": "payments"},
                "annotations": {"runbook": "https://wiki/runbooks/payment"},
                "resolve_after": "30s",
            }
        )
    ]
    engine = AlertEngine(rules, sent.append, "node-1", lambda: clock[0])
    record = {
        "@timestamp": format_epoch(T0),
        "log": {"level": "error"},
        "service": {"name": "payment"},
        "message": "card declined ünïcode",
    }
    engine.observe("app", [record] * 3)
    clock[0] = T0 + 600
    engine.tick()
    return sent


def test_firing_and_resolved_alerts_validate_against_the_v2_schema() -> None:
    firing, resolved = notifications()
    bodies = [alertmanager(firing), alertmanager(resolved)]
    validate(bodies)
    validate([alertmanager(firing)])


def test_firing_and_resolved_carry_the_same_labels_and_times() -> None:
    firing, resolved = (alertmanager(n) for n in notifications())
    assert (
        firing["labels"]
        == resolved["labels"]
        == {
            "alertname": "payment-errors.v2",
            "severity": "warning",
            "instance": "node-1",
            "service_name": "payment",
            "k8s_pod_name": "",
            "_1st": "",
            "team": "payments",
        }
    )
    assert firing["startsAt"] == resolved["startsAt"] == format_epoch(T0)
    # Firing: active until after the silence and a resolve window, unless repeated or resolved.
    assert firing["endsAt"] > format_epoch(T0 + 600)
    assert resolved["endsAt"] == format_epoch(T0 + 60 + 30)
    assert firing["annotations"]["summary"].startswith("payment-errors.v2: 3 matching record(s)")
    assert resolved["annotations"]["summary"] == "payment-errors.v2: resolved"
    assert firing["annotations"]["description"] == "Payment failures"
    assert firing["annotations"]["runbook"] == "https://wiki/runbooks/payment"


def test_the_schema_fixture_rejects_what_alertmanager_rejects() -> None:
    good = alertmanager(notifications()[0])
    for broken in (
        {**good, "labels": {}},
        {**good, "labels": {"bad-name": "x"}},
        {**good, "labels": {"n": 1}},
        {**good, "startsAt": "yesterday"},
        {k: v for k, v in good.items() if k != "labels"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate([broken])


@pytest.mark.parametrize(
    ("field", "label"),
    [("service.name", "service_name"), ("k8s.pod-name", "k8s_pod_name"), ("9x", "_9x")],
)
def test_label_names_from_fields(field: str, label: str) -> None:
    assert label_name(field) == label
