"""The `parsers:` section in the agent config: forms, rule packs, built-ins by name, and errors as
people read them (through logship.app.config_file's formatter)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from logship.app.config import Config
from logship.app.config_file import ConfigError, parse_config
from logship.app.rule_packs import rule_packs_context
from logship.core.lines import Lines
from parsers.chain import build_chains
from parsers.pack import RULE_PACKS_CONTEXT, IncludedPacks, PackText
from parsers.section import ParsersSettings

REPO = Path(__file__).resolve().parents[2]


def config_text(parsers: Any = None, input_extra: str = "", rules: str = "[nginx_access]") -> str:
    doc = textwrap.dedent(
        f"""
        inputs:
          - name: web
            paths: ["/tmp/logship-test/*.log"]
            parsers: {rules}
            {input_extra}
        sinks:
          - {{name: out, type: file, path: /tmp/logship-test/out.ndjson}}
        """
    )
    if parsers is not None:
        doc += yaml.safe_dump({"parsers": parsers})
    return doc


def load(text: str, base: Path = REPO) -> Config:
    return parse_config(text, "test.yaml", base, environ={})


def problems(text: str, base: Path = REPO) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(text, base)
    return err.value.problems


def test_built_in_rules_need_no_parsers_section() -> None:
    config = load(config_text())
    chain = build_chains(config)["web"]
    line = '10.0.0.1 - - [24/Nov/2025:16:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'
    entries, stats = chain.parse(Lines([line], [0], len(line) + 1, []), {"path": "p"}, "t")
    assert stats.matched == {"nginx_access": 1}
    assert entries[0]["http"]["response"]["status_code"] == 200


def test_a_list_is_short_for_rules_and_errors_keep_its_paths() -> None:
    text = config_text(
        [{"name": "mine", "regex": "(?P<a>x", "types": {"b": "int"}}], rules="[mine]"
    )
    assert problems(text) == [
        "parsers[0].regex (mine): does not compile at position 7: missing ): (?P<a>x<HERE>"
    ]
    text = config_text(
        [{"name": "mine", "regex": "(?P<a>x)", "type": "regex", "typo": 1}], rules="[mine]"
    )
    assert problems(text) == [
        "parsers[0].typo (mine): unknown key (did you mean 'type'?); expected one of: add, copy, derive, "
        "description, drop_if, grok, level, map_values, message, name, regex, remove, rename, tags, "
        "timestamp, type, types"
    ]


def test_errors_of_the_mapping_form_name_each_rule_and_setting() -> None:
    text = config_text(
        {
            "rules": [
                {"name": "a", "grok": "%{IPORHOT:source.ip}"},
                {"name": "b", "regex": "(?P<x>y)", "types": {"z": "int"}},
            ]
        },
        rules="[a, b]",
    )
    assert problems(text) == [
        "parsers.rules[0].grok (a): unknown grok pattern 'IPORHOT' at position 0 (did you mean "
        "IPORHOST?); define it under `patterns:` or use one of the shipped ones (docs/parser-rules.md)",
        "parsers.rules[1].types (b): names field 'z', which the regex does not capture (captured: x)",
    ]


def test_unknown_rule_name_in_an_input_is_named_with_suggestions() -> None:
    [problem] = problems(config_text(rules="[nginx_acess]"))
    assert problem.startswith(
        "inputs[0].parsers[0]: unknown parser rule 'nginx_acess' (did you mean 'nginx_access'"
    )


def test_own_rule_overrides_a_built_in_of_the_same_name() -> None:
    config = load(config_text([{"name": "nginx_access", "regex": r"^(?P<whole>.*)$"}]))
    chain = build_chains(config)["web"]
    entries, _ = chain.parse(Lines(["anything"], [0], 9, []), {}, "t")
    assert entries[0]["whole"] == "anything"


def test_patterns_extend_the_library_and_broken_ones_are_named() -> None:
    good = config_text(
        {
            "patterns": {"ORDER": r"[A-Z]{2}-\d+"},
            "rules": [{"name": "o", "grok": "%{ORDER:order.id}"}],
        },
        rules="[o]",
    )
    assert load(good).parsers.library.patterns["ORDER"] == r"[A-Z]{2}-\d+"
    bad = config_text({"patterns": {"BROKEN": "(x"}})
    assert problems(bad) == [
        "parsers.patterns.BROKEN: pattern does not compile (missing )) at position 2"
    ]


def test_a_user_pattern_breaking_a_used_built_in_rule_is_reported_for_the_input() -> None:
    text = config_text({"patterns": {"NONNEGINT": "(?P<oops"}})
    found = problems(text)
    assert any(p.startswith("parsers.patterns.NONNEGINT:") for p in found)


def write_pack(folder: Path, name: str, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(doc))
    return path


def test_rule_packs_from_files_folders_and_globs(tmp_path: Path) -> None:
    write_pack(
        tmp_path / "parsers.d",
        "a.yaml",
        {"patterns": {"ID": r"\d+"}, "rules": [{"name": "pa", "grok": "%{ID:id:int}"}]},
    )
    write_pack(tmp_path / "parsers.d", "b.yml", {"rules": [{"name": "pb", "type": "logfmt"}]})
    write_pack(tmp_path / "more", "c.yaml", {"rules": [{"name": "pc", "regex": "(?P<c>c)"}]})
    text = config_text(
        {"include": ["parsers.d", "more/*.yaml", "nothing/*.yaml"]}, rules="[pa, pb, pc]"
    )
    config = load(text, tmp_path)
    assert {"pa", "pb", "pc"} <= set(config.parsers.rule_names())
    entries, _ = build_chains(config)["web"].parse(Lines(["42"], [0], 3, []), {}, "t")
    assert entries[0]["id"] == 42


def test_rule_pack_errors_name_the_file_rule_and_setting(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "parsers.d", "bad.yaml", {"rules": [{"name": "x", "grok": "%{NOPE:y}"}]}
    )
    write_pack(tmp_path / "parsers.d", "dup.yaml", {"rules": [{"name": "x", "regex": "(?P<a>a)"}]})
    found = problems(config_text({"include": ["parsers.d", "missing.d"]}, rules="[x]"), tmp_path)
    assert found == [f"parsers.include[1]: {tmp_path / 'missing.d'}: no such file or folder"]
    found = problems(config_text({"include": ["parsers.d"]}, rules="[x]"), tmp_path)
    assert (
        f"parsers.include[0]: {pack}: rules[0].grok (x): unknown grok pattern 'NOPE' at position 0"
        in found[0]
    )
    assert any("rule name 'x' is also used by" in p for p in found)


def test_structural_errors_in_a_pack_are_listed_with_their_place(tmp_path: Path) -> None:
    write_pack(
        tmp_path,
        "p.yaml",
        {"rules": [{"name": "x", "regex": "(?P<a>a)", "types": {"a": "number"}}]},
    )
    [problem] = problems(config_text({"include": ["p.yaml"]}, rules="[x]"), tmp_path)
    assert problem.startswith(f"parsers.include[0]: {tmp_path / 'p.yaml'}: rules[0].types.a (x):")


def test_a_double_quoted_regex_in_a_pack_gets_the_single_quotes_hint(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text('rules:\n  - name: x\n    regex: "^(?P<a>\\d+)"\n')
    [problem] = problems(config_text({"include": ["p.yaml"]}, rules="[x]"), tmp_path)
    assert f"{pack}: YAML syntax error at line 3" in problem
    assert "found unknown escape character 'd'" in problem
    assert "write regular expressions in single quotes" in problem


def test_on_no_match_is_checked_and_reaches_the_chain() -> None:
    config = load(config_text(input_extra="on_no_match: drop"))
    assert build_chains(config)["web"].on_no_match == "drop"
    [problem] = problems(config_text(input_extra="on_no_match: discard"))
    assert (
        problem
        == "inputs[0].on_no_match (web): expected one of: 'keep' or 'drop' (got str 'discard')"
    )


def test_redaction_settings_build_a_redactor() -> None:
    config = load(
        config_text(
            {
                "redact": {
                    "builtins": ["credit_card"],
                    "patterns": [{"name": "tok", "regex": "tok_[a-z]+"}],
                }
            }
        )
    )
    chain = build_chains(config)["web"]
    assert chain.redactor is not None
    assert (
        chain.redactor.redact_text("tok_abc 4111 1111 1111 1111")
        == "[REDACTED:tok] [REDACTED:credit_card]"
    )
    [problem] = problems(config_text({"redact": {"builtins": ["ssn"]}}))
    assert problem.startswith("parsers.redact.builtins[0]: expected one of:")


def test_build_chains_compiles_each_rule_once_for_all_inputs() -> None:
    doc = yaml.safe_load(config_text())
    doc["inputs"].append({"name": "web2", "paths": ["/tmp/x/*.log"], "parsers": ["nginx_access"]})
    config = Config.model_validate(doc, context={"base_dir": REPO})
    chains = build_chains(config)
    assert chains["web"].rules[0] is chains["web2"].rules[0]


def test_the_example_parsers_section_and_rule_packs_load_and_work() -> None:
    example = yaml.safe_load((REPO / "config" / "logship.example.yaml").read_text())
    base = REPO / "config"
    section = ParsersSettings.model_validate(
        example["parsers"], context={"base_dir": base, **rule_packs_context(example, base)}
    )
    for name in ("shop_app", "haproxy_http", "payments_json"):
        assert name in section.rule_names()
    doc = yaml.safe_load(config_text(rules="[shop_app, payments_json, haproxy_http]"))
    doc["parsers"] = example["parsers"]
    config = Config.model_validate(doc, context={"base_dir": base, **rule_packs_context(doc, base)})
    chain = build_chains(config)["web"]
    texts = [
        "2026-05-01 12:00:00,123 ERROR [main] com.shop.Orders - order AB-12345 failed",
        '{"ts":"2026-05-01T12:00:00Z","severity":"critical","msg":"down","status":"503","route":"/pay","card_token":"t"}',
        '{"ts":"2026-05-01T12:00:00Z","severity":"info","msg":"ok","route":"/healthz"}',
        'Nov 24 10:00:00 lb1 haproxy[123]: 10.0.0.1:5555 [24/Nov/2025:10:00:00.123] fe be/s1 0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 "GET /api HTTP/1.1"',
    ]
    entries, stats = chain.parse(Lines(texts, [0, 1, 2, 3], 4, []), {}, "t")
    assert stats.unmatched == 0
    assert stats.dropped == {"payments_json": 1}
    shop, payments, haproxy = entries
    assert shop["order"] == {"id": "AB-12345"}
    assert shop["log"]["level"] == "error"
    assert shop["@timestamp"] == "2026-05-01T10:00:00.123Z"  # Europe/Berlin, summer time
    assert payments["http"]["response"]["status_code"] == 503
    assert payments["log"]["level"] == "fatal"
    assert "card_token" not in payments
    assert haproxy["@timestamp"] == "2025-11-24T10:00:00.123Z"
    assert haproxy["source"] == {"ip": "10.0.0.1", "address": "10.0.0.1", "port": 5555}


def test_validating_the_section_reads_no_file_the_loader_hands_the_packs_over() -> None:
    text = "rules: [{name: from_memory, regex: '(?P<c>c)'}]\n"
    given = {0: IncludedPacks((PackText("memory.yaml", text),))}
    section = ParsersSettings.model_validate(
        {"include": ["/nonexistent/p.yaml"]}, context={RULE_PACKS_CONTEXT: given}
    )
    assert "from_memory" in section.rule_names()
    with pytest.raises(ValidationError, match="was not read"):
        ParsersSettings.model_validate({"include": ["/nonexistent/p.yaml"]})


def test_the_built_in_packs_read_alike_with_libyaml_and_pure_python_and_refuse_duplicates() -> None:
    """Built-in packs are parsed with libyaml (start-up CPU); it must see what PyYAML sees."""
    from importlib import resources

    from logship.core import strict_yaml

    texts = [
        entry.read_text(encoding="utf-8")
        for entry in resources.files("parsers.rules").iterdir()
        if entry.name.endswith(".yaml")
    ]
    assert texts
    for text in texts:
        assert strict_yaml.load(text, fast=True) == strict_yaml.load(text)
    with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
        strict_yaml.load("a: 1\nb: 2\na: 3\n", fast=True)
