"""Redaction: built-in redactors, own patterns, and no Luhn-valid card number ever left behind."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from logship.core.lines import Lines
from parsers.chain import ParserChain
from parsers.compiler import compile_rule
from parsers.redaction import BUILTIN_REDACTORS, Redactor, luhn_valid
from parsers.section import ParsersSettings

CARD = "4111 1111 1111 1111"  # a test Visa number (Luhn-valid)


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


def test_card_numbers_are_redacted_with_any_separators() -> None:
    r = Redactor(["credit_card"])
    assert r.redact_text(f"paid with {CARD} ok") == "paid with [REDACTED:credit_card] ok"
    assert r.redact_text("card=4111-1111-1111-1111;") == "card=[REDACTED:credit_card];"
    assert r.redact_text("x4111111111111111y") == "x[REDACTED:credit_card]y"


def test_digit_runs_that_fail_luhn_are_kept() -> None:
    r = Redactor(["credit_card"])
    assert r.redact_text("order 4111111111111112 shipped") == "order 4111111111111112 shipped"
    assert r.redact_text("ts=1764000000 id=123456789012") == "ts=1764000000 id=123456789012"
    assert r.redact_text("id 41111111111111111234") == "id 41111111111111111234"  # 20 digits: an id


def test_a_card_among_other_digit_groups_is_found() -> None:
    r = Redactor(["credit_card"])
    assert r.redact_text(f"12 {CARD} 0925") == "[REDACTED:credit_card]"
    assert luhn_card_left_in(f"12 {CARD} 0925")


def test_email_bearer_and_password_values() -> None:
    r = Redactor(BUILTIN_REDACTORS)
    assert r.redact_text("from alice.smith+x@mail.example.com to bob@example.org") == (
        "from [REDACTED:email] to [REDACTED:email]"
    )
    assert r.redact_text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc") == (
        "Authorization: Bearer [REDACTED:bearer_token]"
    )
    assert (
        r.redact_text("login password=hunter2 user=x")
        == "login password=[REDACTED:password] user=x"
    )
    assert r.redact_text('{"passwd": "s3cret", "api_key":"k"}') == (
        '{"passwd": "[REDACTED:password]", "api_key":"[REDACTED:password]"}'
    )
    assert (
        r.redact_text("passenger=3 bypass=1 next_token=abc")
        == "passenger=3 bypass=1 next_token=abc"
    )


def test_own_patterns_with_replacement_and_groups() -> None:
    r = Redactor(
        [],
        [
            ("iban", r"\b([A-Z]{2})\d{2}[A-Z0-9]{11,30}\b", r"\1[IBAN]"),
            ("ssn", r"\d{3}-\d{2}-\d{4}", None),
        ],
    )
    assert (
        r.redact_text("to DE89370400440532013000 ssn 123-45-6789")
        == "to DE[IBAN] ssn [REDACTED:ssn]"
    )


def test_records_are_redacted_in_nested_fields_and_lists() -> None:
    r = Redactor(["email"])
    record = {"message": "a@b.example", "user": {"email": "c@d.example", "ids": ["e@f.example", 3]}}
    r.redact_record(record)
    assert record == {
        "message": "[REDACTED:email]",
        "user": {"email": "[REDACTED:email]", "ids": ["[REDACTED:email]", 3]},
    }


CANDIDATE = re.compile(r"[0-9](?:[ -]?[0-9]){12,18}")


def luhn_card_left_in(text: str) -> bool:
    """Written apart from the redactor on purpose: any substring of 13-19 digits (single space or
    dash separators allowed) that starts and ends next to a non-digit and passes Luhn."""
    n = len(text)
    for i in range(n):
        if not text[i].isdigit() or (i > 0 and text[i - 1] in "0123456789"):
            continue
        for j in range(i + 13, min(n, i + 37) + 1):
            if j < n and text[j] in "0123456789":
                continue
            piece = text[i:j]
            if CANDIDATE.fullmatch(piece) and luhn_valid(re.sub("[ -]", "", piece)):
                return True
    return False


def strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


@st.composite
def luhn_numbers(draw: st.DrawFn) -> str:
    body = draw(st.lists(st.integers(0, 9), min_size=12, max_size=18))
    for check in range(10):
        digits = "".join(map(str, [*body, check]))
        if luhn_valid(digits):
            break
    sep = draw(st.sampled_from(["", " ", "-"]))
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return sep.join(groups)


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
LINE = st.lists(
    st.one_of(TEXT, luhn_numbers(), st.sampled_from([" ", "-", "=", '"', "0", "7"])), max_size=8
).map("".join)


@settings(max_examples=300, deadline=None)
@given(line=LINE)
def test_redaction_never_leaves_a_luhn_valid_card_number(line: str) -> None:
    assert not luhn_card_left_in(Redactor(["credit_card"]).redact_text(line))


@settings(max_examples=200, deadline=None)
@given(number=luhn_numbers(), prefix=TEXT, suffix=TEXT)
def test_no_card_number_survives_a_chain_whatever_rule_parses_the_line(
    number: str, prefix: str, suffix: str
) -> None:
    section = ParsersSettings()
    rules = [
        compile_rule(section.rule(n), section.library)
        for n in ("json", "logfmt", "syslog_rfc3164", "nginx_access")
    ]
    chain = ParserChain(rules, "h", redactor=Redactor(["credit_card"]))
    texts = [
        f"{prefix}{number}{suffix}".replace("\n", " "),
        f'{{"message": "{number}", "card": "{number}"}}',
        f'msg="paid {number}" card={number.replace(" ", "-")}',
        f"Jun 14 15:16:01 host app[1]: card {number}",
        f'10.0.0.1 - - [24/Nov/2025:16:00:00 +0000] "GET /pay?card={number.replace(" ", "")} HTTP/1.1" 200 1 "-" "{number}"',
    ]
    entries, _ = chain.parse(Lines(texts, [0, 1, 2, 3, 4], 5, []), {"path": "p"}, "t")
    for entry in entries:
        for text in strings(entry):
            assert not luhn_card_left_in(text), (entry, text)
