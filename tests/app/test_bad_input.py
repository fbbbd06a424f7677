"""The bad inputs of the agent-core issue, each met with a clear message and nothing lost."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests import harness
from tests.harness import AgentProcess, count_lines, read_ndjson, run_cli, wait_until, write_config


def config_doc(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    doc = harness.config_doc(
        tmp_path,
        agent={"checkpoint_interval": "100ms"},
        input={"scan_interval": "200ms"},
        sink={"batch": {"linger_ms": 10}},
    )
    doc.update(overrides)
    return doc


def messages(agent: AgentProcess) -> list[str]:
    return [str(e.get("message")) for e in agent.logs()]


def test_run_without_a_config_file_says_so(tmp_path: Path) -> None:
    result = run_cli("run", "-c", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert f"Invalid config {tmp_path / 'missing.yaml'}: the file does not exist" in result.stderr


def test_run_with_an_invalid_config_refuses_to_start_and_names_the_key(tmp_path: Path) -> None:
    doc = config_doc(tmp_path)
    doc["inputs"][0]["paths"] = "/var/log/*.log"
    result = run_cli("run", "-c", str(write_config(tmp_path / "a.yaml", doc)))
    assert result.returncode == 2
    assert "inputs[0].paths (app): expected a list of glob patterns" in result.stderr
    assert not (tmp_path / "data").exists(), "nothing may start on a bad config"


def test_check_prints_the_resolved_config_with_secrets_masked_and_the_matched_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("x\n")
    doc = config_doc(tmp_path)
    doc["agent"]["host_name"] = "${HOST_FOR_TEST}"
    doc["sinks"].append({"name": "s", "type": "stdout"})
    path = write_config(tmp_path / "a.yaml", doc)
    result = run_cli("check", "-c", str(path), env={"HOST_FOR_TEST": "node-7"})
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "host_name: node-7" in result.stdout
    assert f"app: 1 file(s)\n  {tmp_path / 'logs' / 'a.log'}" in result.stdout


def test_secret_looking_values_are_masked_for_display() -> None:
    from logship.core.secrets import mask_secrets

    shown = mask_secrets(
        {"sasl.password": "hunter2", "api_key": "k", "name": "n", "nested": [{"token": "t"}]}
    )
    assert shown == {
        "sasl.password": "***",
        "api_key": "***",
        "name": "n",
        "nested": [{"token": "***"}],
    }


def test_version_prints_the_version() -> None:
    from logship import __version__

    result = run_cli("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"logship {__version__}"


def test_an_output_folder_that_cannot_be_written_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the output folder should be")
    doc = config_doc(tmp_path)
    doc["sinks"][0]["path"] = str(tmp_path / "not-a-folder" / "logs.ndjson")
    result = run_cli("run", "-c", str(write_config(tmp_path / "a.yaml", doc)))
    assert result.returncode == 1
    assert (
        f"cannot start: sinks[0] (out): cannot write {tmp_path / 'not-a-folder' / 'logs.ndjson'}"
        in result.stderr
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir(mode=0o500)
    doc = config_doc(tmp_path)
    doc["sinks"][0]["path"] = str(tmp_path / "ro" / "logs.ndjson")
    result = run_cli("run", "-c", str(write_config(tmp_path / "a.yaml", doc)))
    assert result.returncode == 1
    assert "Permission denied" in result.stderr


def test_a_data_dir_that_cannot_be_created_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    doc = config_doc(tmp_path)
    doc["agent"]["data_dir"] = str(tmp_path / "file" / "data")
    result = run_cli("run", "-c", str(write_config(tmp_path / "a.yaml", doc)))
    assert result.returncode == 1
    assert f"agent.data_dir: cannot use {tmp_path / 'file' / 'data'}" in result.stderr


def test_a_corrupt_checkpoint_file_refuses_to_start_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "registry.json").write_text('{"version": 1, "files": {"1:2": {"pa')
    result = run_cli("run", "-c", str(write_config(tmp_path / "a.yaml", config_doc(tmp_path))))
    assert result.returncode == 1
    assert f"Checkpoint file {tmp_path / 'data' / 'registry.json'} is corrupt" in result.stderr


def test_two_agents_cannot_share_a_data_dir(tmp_path: Path, agents: list[AgentProcess]) -> None:
    path = write_config(tmp_path / "a.yaml", config_doc(tmp_path))
    first = AgentProcess(path).start()
    agents.append(first)
    first.wait_for_log("Agent started.")
    result = run_cli("run", "-c", str(path))
    assert result.returncode == 1
    assert "is in use by another logship process" in result.stderr
    assert first.stop() == 0


def test_a_glob_that_matches_nothing_yet_warns_and_picks_the_file_up_later(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    agent = AgentProcess(write_config(tmp_path / "a.yaml", config_doc(tmp_path))).start()
    agents.append(agent)
    warning = agent.wait_for_log("No file matches the input's paths yet; watching for them.")
    assert warning["level"] == "warning"
    assert warning["input"] == "app"
    (tmp_path / "logs").mkdir()  # even the folder did not exist
    (tmp_path / "logs" / "late.log").write_text("hello\nworld\n")
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) == 2, message="the late file's lines")
    assert [r["message"] for r in read_ndjson(out)] == ["hello", "world"]
    assert agent.stop() == 0


def test_a_file_deleted_while_being_read_is_read_to_its_end(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "doomed.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    agent = AgentProcess(write_config(tmp_path / "a.yaml", config_doc(tmp_path))).start()
    agents.append(agent)
    agent.wait_for_log("File opened.")
    with log.open("a") as f:
        f.write("".join(f"line {i}\n" for i in range(1000, 2000)))
        f.write("last line without newline")
    log.unlink()
    out = tmp_path / "out" / "logs.ndjson"
    wait_until(lambda: count_lines(out) == 2001, message="every line of the deleted file")
    closed = wait_until(
        lambda: next((e for e in agent.logs() if e.get("message") == "File closed."), None),
        message="the deleted file to be closed",
    )
    assert closed["reason"] == "deleted"
    messages_out = [r["message"] for r in read_ndjson(out)]
    assert messages_out == [f"line {i}" for i in range(2000)] + ["last line without newline"]
    assert agent.running()
    assert agent.stop() == 0


def test_pem_keys_and_keystores_count_as_secrets() -> None:
    from logship.core.secrets import is_secret_key

    assert is_secret_key("ssl.key.pem")
    assert is_secret_key("ssl.keystore.password")
    assert not is_secret_key("key")  # the kafka sink's message key template
