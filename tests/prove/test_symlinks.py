"""Symlinks: an input does not follow a link out of its folders unless `follow_symlinks` allows it.

The threat: an application that may write into a log folder can plant `app.log -> /etc/shadow`,
and an agent that reads anything it can (often as root) would ship that file to Elasticsearch.
Links that stay inside the folders the input's globs cover are followed (they name files the
input reads anyway), and so are links into folders listed in `follow_symlinks`
(`/var/log/containers/*.log` -> `/var/log/pods`); `follow_symlinks: true` follows any link.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from logship.app.config_file import ConfigError, parse_config
from logship.tail.discovery import FileFinder
from tests.harness import (
    AgentProcess,
    count_lines,
    read_ndjson,
    run_cli,
    wait_until,
    write_config,
)
from tests.prove.endpoint import base_url, scrape, value

REFUSED = "Not following a symlink out of the input's folders"
SECRET = "root:$6$not-for-shipping:19000:0:99999:7:::"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """logs/ with a plain file, a link inside logs/, and links out to secret/ (file and folder)."""
    logs, secret = tmp_path / "logs", tmp_path / "secret"
    (logs / "sub").mkdir(parents=True)
    secret.mkdir()
    (secret / "shadow").write_text(SECRET + "\n")
    (secret / "nested").mkdir()
    (secret / "nested" / "x.log").write_text(SECRET + "\n")
    (logs / "app.log").write_text("plain\n")
    (logs / "sub" / "real.log").write_text("inside\n")
    os.symlink(logs / "sub" / "real.log", logs / "inside.log")
    os.symlink(secret / "shadow", logs / "evil.log")
    os.symlink("../secret/shadow", logs / "relative-evil.log")
    os.symlink(secret / "nested", logs / "linked-folder")
    return tmp_path


def test_links_out_of_the_globs_folders_are_not_followed_by_default(layout: Path) -> None:
    logs = layout / "logs"
    finder = FileFinder([str(logs / "**" / "*.log")])
    assert finder.scan() == [
        str(logs / "app.log"),
        str(logs / "inside.log"),
        str(logs / "sub" / "real.log"),
    ]
    shadow = str(layout / "secret" / "shadow")
    assert finder.outside_links == {
        str(logs / "evil.log"): shadow,
        str(logs / "relative-evil.log"): shadow,
        str(logs / "linked-folder" / "x.log"): str(layout / "secret" / "nested" / "x.log"),
    }


def test_listed_folders_and_true_allow_links_out(layout: Path) -> None:
    logs = layout / "logs"
    listed = FileFinder([str(logs / "*.log")], follow_symlinks=[str(layout / "secret")])
    assert str(logs / "evil.log") in listed.scan()
    assert listed.outside_links == {}
    anywhere = FileFinder([str(logs / "*.log")], follow_symlinks=True)
    assert str(logs / "relative-evil.log") in anywhere.scan()
    elsewhere = FileFinder([str(logs / "*.log")], follow_symlinks=[str(layout / "elsewhere")])
    assert str(logs / "evil.log") not in elsewhere.scan()


def test_a_glob_root_that_is_itself_a_link_still_counts_as_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.log").write_text("x\n")
    os.symlink(tmp_path / "real", tmp_path / "var-log")  # e.g. /var/log on another disk
    finder = FileFinder([str(tmp_path / "var-log" / "*.log")])
    assert finder.scan() == [str(tmp_path / "var-log" / "a.log")]


def test_the_open_descriptor_is_checked_so_a_link_swapped_after_the_scan_is_caught(
    layout: Path,
) -> None:
    finder = FileFinder([str(layout / "logs" / "*.log")])
    inside = os.open(layout / "logs" / "app.log", os.O_RDONLY)
    outside = os.open(layout / "logs" / "evil.log", os.O_RDONLY)  # followed by open()
    try:
        assert finder.opened_inside(inside, str(layout / "logs" / "app.log"))
        assert not finder.opened_inside(outside, str(layout / "logs" / "evil.log"))
    finally:
        os.close(inside)
        os.close(outside)


def test_kubernetes_container_links_work_when_the_pods_folder_is_listed(tmp_path: Path) -> None:
    pods = tmp_path / "var" / "log" / "pods" / "shop_web-1_0f2c1f7e-1111-2222-3333-444455556666"
    (pods / "nginx").mkdir(parents=True)
    (pods / "nginx" / "0.log").write_text("x\n")
    containers = tmp_path / "var" / "log" / "containers"
    containers.mkdir()
    link = containers / f"web-1_shop_nginx-{'c' * 64}.log"
    os.symlink(pods / "nginx" / "0.log", link)
    assert FileFinder([str(containers / "*.log")]).scan() == []
    listed = FileFinder([str(containers / "*.log")], follow_symlinks=[str(pods.parent)])
    assert listed.scan() == [str(link)]
    # The shipped DaemonSet globs the real files under /var/log/pods: no link involved.
    assert FileFinder([str(pods.parent / "*" / "*" / "*.log")]).scan() == [
        str(pods / "nginx" / "0.log")
    ]


def test_follow_symlinks_takes_true_false_or_folders_and_names_the_key(tmp_path: Path) -> None:
    def config(value: object) -> str:
        return (
            f"inputs: [{{name: a, paths: ['/l/*.log'], follow_symlinks: {value}}}]\n"
            "sinks: [{name: o, type: stdout}]\n"
        )

    relative = parse_config(config("[pods]"), "c.yaml", tmp_path)
    assert relative.inputs[0].follow_symlinks == [tmp_path / "pods"]
    assert parse_config(config("true"), "c.yaml", tmp_path).inputs[0].follow_symlinks is True
    assert parse_config(config("false"), "c.yaml", tmp_path).inputs[0].follow_symlinks is False
    with pytest.raises(ConfigError) as err:
        parse_config(config("/var/log/pods"), "c.yaml", tmp_path)
    assert "inputs[0].follow_symlinks (a): expected true, false, or a list of folders" in str(
        err.value
    )


def test_the_agent_ships_inside_links_refuses_outside_ones_and_says_so(
    layout: Path, agents: list[AgentProcess]
) -> None:
    out = layout / "out" / "logs.ndjson"
    doc = {
        "agent": {
            "data_dir": str(layout / "data"),
            "workers": 1,
            "http": {"address": "127.0.0.1:0"},
        },
        "inputs": [
            {
                "name": "app",
                "paths": [str(layout / "logs" / "**" / "*.log")],
                "poll_interval": "50ms",
                "scan_interval": "200ms",
            }
        ],
        "sinks": [{"name": "out", "type": "file", "path": str(out), "batch": {"linger_ms": 10}}],
    }
    config = write_config(layout / "agent.yaml", doc)
    check = run_cli("check", "-c", str(config))
    assert check.returncode == 0, check.stderr
    assert "app: 3 file(s)" in check.stdout
    assert (
        f"not followed (leads out of the input's folders, see follow_symlinks): "
        f"{layout / 'logs' / 'evil.log'} -> {layout / 'secret' / 'shadow'}"
    ) in check.stdout

    agent = AgentProcess(config).start()
    agents.append(agent)
    base = base_url(agent)
    wait_until(lambda: count_lines(out) >= 2, message="the plain file and the inside link")

    def refusals() -> list[dict[str, Any]]:
        return [e for e in agent.logs() if e.get("message", "").startswith(REFUSED)]

    wait_until(lambda: len(refusals()) >= 3, message="one warning per outside link")
    assert {w["path"] for w in refusals()} == {
        str(layout / "logs" / "evil.log"),
        str(layout / "logs" / "relative-evil.log"),
        str(layout / "logs" / "linked-folder" / "x.log"),
    }
    assert value(scrape(base), "logship_file_symlinks_skipped_total", input="app") == 3
    # A later scan neither ships nor warns again about the same links.
    (layout / "logs" / "late.log").write_text("late\n")
    wait_until(lambda: count_lines(out) >= 3, message="a file created later")
    assert agent.stop() == 0
    shipped = sorted(r["message"] for r in read_ndjson(out))
    assert shipped == ["inside", "late", "plain"]
    assert SECRET not in out.read_text()
    assert len(refusals()) == 3

    # Allowed by name, the same link is read.
    doc["inputs"][0]["follow_symlinks"] = [str(layout / "secret")]
    allowed = AgentProcess(write_config(layout / "allowed.yaml", doc)).start()
    agents.append(allowed)
    wait_until(lambda: SECRET in out.read_text(), message="the linked file, now allowed")
    assert allowed.stop() == 0
