"""Config loading: every problem names the key path and what was expected; nothing half-configured starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from logship.app.config_file import ConfigError, load_config, parse_config
from sinks.file import FileSinkSettings

VALID = """
agent:
  data_dir: ./data
inputs:
  - name: web
    paths: ["/var/log/nginx/access.log*"]
    exclude: ["*.gz"]
    start_at: beginning
    parsers: [web_access]
parsers:
  - name: web_access
    regex: '^(?P<source_ip>\\S+) \\S+ \\S+ \\[(?P<time>[^\\]]+)\\] "[^"]*" (?P<status>\\d{3})'
    types: {status: int}
    timestamp: {field: time, format: "%d/%b/%Y:%H:%M:%S %z"}
sinks:
  - name: archive
    type: file
    path: ./out/logs.ndjson
"""


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml", Path("/etc/logship"), env or {})
    return info.value.problems


def test_the_documented_shape_loads_with_relative_paths_resolved_against_the_config_folder() -> (
    None
):
    config = parse_config(VALID, "test.yaml", Path("/etc/logship"), {})
    assert config.agent.data_dir == Path("/etc/logship/data")
    assert config.inputs[0].paths == ["/var/log/nginx/access.log*"]
    assert config.inputs[0].start_at == "beginning"
    sink = config.sinks[0]
    assert isinstance(sink, FileSinkSettings)
    assert sink.path == Path("/etc/logship/out/logs.ndjson")
    assert config.parsers.rules[0].types == {"status": "int"}


def test_durations_and_sizes_accept_units() -> None:
    text = VALID.replace(
        "    start_at: beginning",
        "    start_at: beginning\n    scan_interval: 500ms\n    max_line_bytes: 64KiB",
    )
    config = parse_config(text, "test.yaml", Path("/"), {})
    assert config.inputs[0].scan_interval == 0.5
    assert config.inputs[0].max_line_bytes == 65536


def test_environment_variables_are_interpolated_with_defaults() -> None:
    text = VALID.replace("./out/logs.ndjson", "${OUT_DIR}/logs.ndjson").replace(
        "./data", "${DATA_DIR:-/var/lib/logship}"
    )
    config = parse_config(text, "test.yaml", Path("/"), {"OUT_DIR": "/srv/out"})
    assert config.agent.data_dir == Path("/var/lib/logship")
    assert config.sinks[0].path == Path("/srv/out/logs.ndjson")  # type: ignore[union-attr]


def test_dollar_dollar_is_a_literal_dollar() -> None:
    text = VALID.replace("name: archive", "name: archive$$1")
    config = parse_config(text, "test.yaml", Path("/"), {})
    assert config.sinks[0].name == "archive$1"


def test_an_unset_variable_without_default_names_the_key_and_the_variable() -> None:
    text = VALID.replace("./out/logs.ndjson", "${OUT_DIR}/logs.ndjson")
    assert problems(text) == [
        "sinks[0].path: environment variable OUT_DIR is not set (set it, or give a default: ${OUT_DIR:-value})"
    ]


def test_yaml_syntax_errors_give_line_and_column() -> None:
    (message,) = problems("inputs:\n  - name: web\n    paths: [unclosed\n")
    assert message.startswith("YAML syntax error at line 4, column 1")


def test_a_double_quoted_regex_with_backslashes_gets_a_hint_to_use_single_quotes() -> None:
    single = 'regex: \'^(?P<source_ip>\\S+) \\S+ \\S+ \\[(?P<time>[^\\]]+)\\] "[^"]*" (?P<status>\\d{3})\''
    double = 'regex: "^(?P<source_ip>\\S+) (?P<status>\\d{3})"'
    assert single in VALID
    (message,) = problems(VALID.replace(single, double))
    assert message.startswith("YAML syntax error at line 12, column 29")
    assert "found unknown escape character 'S'" in message
    assert "write regular expressions in single quotes" in message


def test_duplicate_keys_are_errors_not_silently_overwritten() -> None:
    (message,) = problems(
        VALID.replace("    start_at: beginning", "    start_at: beginning\n    start_at: end")
    )
    assert "duplicate key 'start_at'" in message
    assert "line 9" in message


def test_a_string_where_a_list_of_globs_belongs_is_named() -> None:
    (message,) = problems(
        VALID.replace('paths: ["/var/log/nginx/access.log*"]', 'paths: "/var/log/*.log"')
    )
    assert message.startswith("inputs[0].paths (web): expected a list of glob patterns")


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    (message,) = problems(VALID.replace("    exclude:", "    pathz: [x]\n    exclude:"))
    assert message.startswith("inputs[0].pathz (web): unknown key (did you mean 'paths'?)")


def test_wrong_types_name_the_key_and_the_value() -> None:
    (message,) = problems(
        VALID.replace("  data_dir: ./data", "  data_dir: ./data\n  checkpoint_interval: soon")
    )
    assert message.startswith(
        "agent.checkpoint_interval: expected a duration like 30s, 500ms or 5m"
    )


def test_an_invalid_choice_lists_the_allowed_values() -> None:
    (message,) = problems(VALID.replace("start_at: beginning", "start_at: middle"))
    assert (
        message
        == "inputs[0].start_at (web): expected one of: 'beginning' or 'end' (got str 'middle')"
    )


@pytest.mark.parametrize("value", ["two", "0", "1.5"])
def test_a_value_no_member_of_a_union_accepts_is_one_problem_saying_what_the_key_takes(
    value: str,
) -> None:
    text = VALID.replace("  data_dir: ./data", f"  data_dir: ./data\n  workers: {value}")
    assert problems(text) == [
        f'agent.workers: expected a positive integer or "auto" (got {type(yaml.safe_load(value)).__name__} {yaml.safe_load(value)!r})'
    ]


def test_a_union_without_an_expected_text_lists_what_each_member_accepts() -> None:
    text = VALID.replace("types: {status: int}", "types: {status: int}\n    add: {team: {a: 1}}")
    assert problems(text) == [
        "parsers[0].add.team (web_access): expected a string, an integer, a number, "
        "true or false, or a list (got a mapping {'a': 1})"
    ]


def test_a_wrong_item_of_a_list_member_of_a_union_is_reported_at_the_item() -> None:
    text = VALID.replace("    exclude:", "    follow_symlinks: [[1]]\n    exclude:")
    assert problems(text) == [
        "inputs[0].follow_symlinks[0] (web): expected a path (got a list [1])"
    ]


def test_a_regex_that_does_not_compile_names_the_rule_and_the_position() -> None:
    (message,) = problems(VALID.replace("(?P<status>\\d{3})", "(?P<status>\\d{3}"))
    assert message.startswith("parsers[0].regex (web_access): does not compile at position 73")
    assert "missing )" in message
    assert "<HERE>" in message


def test_types_naming_an_uncaptured_field_is_a_load_time_error() -> None:
    (message,) = problems(VALID.replace("types: {status: int}", "types: {bytes: int}"))
    assert message.startswith(
        "parsers[0].types (web_access): names field 'bytes', which the regex does not capture"
    )


def test_an_input_naming_an_unknown_rule_is_an_error() -> None:
    (message,) = problems(VALID.replace("parsers: [web_access]", "parsers: [web_acess]"))
    assert message.startswith(
        "inputs[0].parsers[0]: unknown parser rule 'web_acess' (did you mean 'web_access'"
    )


def test_an_unknown_sink_type_lists_the_known_ones() -> None:
    (message,) = problems(VALID.replace("type: file", "type: fiel"))
    assert message.startswith("sinks[0].type (archive): unknown type 'fiel'; expected one of:")
    assert "'file'" in message


def test_a_missing_section_is_named() -> None:
    (message,) = problems(VALID.split("sinks:", maxsplit=1)[0])
    assert message == "sinks: required key is missing; expected a list of sinks"


def test_duplicate_names_are_errors() -> None:
    text = VALID + "  - name: archive\n    type: stdout\n"
    (message,) = problems(text)
    assert message == "sinks[1].name: 'archive' is used twice; names must be unique"


def test_several_problems_are_reported_together() -> None:
    text = VALID.replace("start_at: beginning", "start_at: middle").replace(
        "type: file", "type: fiel"
    )
    assert len(problems(text)) == 2


def test_secret_values_are_not_echoed_in_errors() -> None:
    text = VALID.replace(
        "    path: ./out/logs.ndjson", "    path: ./out/logs.ndjson\n    password: [hunter2]"
    )
    (message,) = problems(text)
    assert "hunter2" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_an_empty_file_says_what_belongs_in_it(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(tmp_path / "empty.yaml")


def test_the_example_config_documenting_every_option_is_valid() -> None:
    from tests.harness import REPO

    config = load_config(REPO / "config" / "logship.example.yaml", {"ES_PASSWORD": "secret"})
    assert config.sinks[0].file_mode == 0o640  # type: ignore[union-attr]


def test_the_demo_config_is_valid() -> None:
    from tests.harness import REPO

    config = load_config(REPO / "config" / "demo.yaml")
    assert [i.name for i in config.inputs] == ["web", "shop"]


def test_a_bare_null_sink_type_gets_a_quoting_hint() -> None:
    (message,) = problems(VALID.replace("type: file", "type: null"))
    assert 'write type: "null" in quotes' in message
