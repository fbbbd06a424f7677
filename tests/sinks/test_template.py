from __future__ import annotations

import pytest

from sinks.template import FieldTemplate, TemplateError

ENTRY = {
    "@timestamp": "2026-11-24T09:30:00.123Z",
    "service": {"name": "shop"},
    "http": {"response": {"status_code": 503}},
    "message": "x",
}


def test_constant_template_renders_itself() -> None:
    assert FieldTemplate("logs").render(ENTRY) == "logs"
    assert FieldTemplate("logs").constant == "logs"


def test_dotted_fields_are_looked_up_in_nested_records() -> None:
    t = FieldTemplate("logs-{service.name}-{http.response.status_code}")
    assert t.render(ENTRY) == "logs-shop-503"
    assert t.fields == ["service.name", "http.response.status_code"]


def test_missing_field_renders_none_unless_it_has_a_fallback() -> None:
    assert FieldTemplate("logs-{kubernetes.namespace}").render(ENTRY) is None
    assert FieldTemplate("logs-{kubernetes.namespace:-default}").render(ENTRY) == "logs-default"


def test_date_parts_come_from_the_timestamp() -> None:
    assert FieldTemplate("logs-{service.name}-%Y.%m.%d").render(ENTRY) == "logs-shop-2026.11.24"
    assert FieldTemplate("h-%H").render(ENTRY) == "h-09"


def test_doubled_braces_and_percent_are_literals() -> None:
    assert FieldTemplate("a{{b}}c%%").render(ENTRY) == "a{b}c%"


@pytest.mark.parametrize("bad", ["logs-{", "logs-}", "{ }", "50%"])
def test_malformed_templates_are_rejected_with_the_position(bad: str) -> None:
    with pytest.raises(TemplateError, match="position"):
        FieldTemplate(bad)
