"""Kubernetes metadata end to end: the agent (in-process) watches the fake API server through a
kubeconfig file and tails CRI files laid out as the kubelet does (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from logship.app.config_file import load_config
from logship.core.metrics import current_value
from tests.doubles.kube_api import KubeApiServer, pod_doc
from tests.harness import wait_until, write_config
from tests.kube.conftest import Node

WEB = "11111111-0000-0000-0000-000000000001"
DB = "22222222-0000-0000-0000-000000000002"
AGENT = "33333333-0000-0000-0000-000000000003"


def _by_message(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["message"]: r for r in records}


def _three_pods(api: KubeApiServer) -> None:
    api.put_namespace("shop", {"team": "payments", "env.tier": "prod"})
    api.put_namespace("ops")
    api.put_replicaset("shop", "web-5d9f", "web")
    api.put_pod(
        pod_doc(
            "web-5d9f-x1",
            "shop",
            WEB,
            labels={"app.kubernetes.io/name": "web", "tier": "front"},
            annotations={"example.com/team": "checkout", "example.com/secret": "no"},
            owner=("ReplicaSet", "web-5d9f"),
            containers={"nginx": "nginx:1.27"},
            ip="10.1.0.5",
        )
    )
    api.put_pod(
        pod_doc("db-0", "shop", DB, owner=("StatefulSet", "db"), containers={"pg": "pg:16"})
    )
    api.put_pod(pod_doc("agent-q7", "ops", AGENT, owner=("DaemonSet", "agent")))


def test_every_record_of_three_pods_in_two_namespaces_carries_labels_annotations_owner_and_node(
    node: Node, api: KubeApiServer
) -> None:
    _three_pods(api)
    node.write("shop", "web-5d9f-x1", WEB, "nginx", "web 1", "web 2")
    node.write("shop", "db-0", DB, "pg", "db 1")
    node.write("ops", "agent-q7", AGENT, "app", "agent 1")
    node.start({"annotations": ["example.com/team"]})

    records = wait_until(lambda: len(node.records()) >= 4 and node.records(), timeout=30)
    assert len(records) == 4
    got = _by_message(records)
    for record in records:
        assert "tags" not in record or "kubernetes_metadata_missing" not in record["tags"]
        assert record["kubernetes"]["node"] == {"name": "node-1"}
    web = got["web 1"]
    assert web["kubernetes"]["namespace"] == "shop"
    assert web["kubernetes"]["pod"] == {"name": "web-5d9f-x1", "uid": WEB, "ip": "10.1.0.5"}
    assert web["kubernetes"]["labels"] == {"app_kubernetes_io/name": "web", "tier": "front"}
    assert web["kubernetes"]["annotations"] == {"example_com/team": "checkout"}
    assert web["kubernetes"]["namespace_labels"] == {"team": "payments", "env_tier": "prod"}
    assert web["kubernetes"]["deployment"] == {"name": "web"}
    assert web["kubernetes"]["replicaset"] == {"name": "web-5d9f"}
    assert web["kubernetes"]["container"] == {"name": "nginx"}
    assert web["container"]["image"] == {"name": "nginx:1.27"}
    assert len(web["container"]["id"]) > 16
    assert got["web 2"]["kubernetes"] == web["kubernetes"]
    db = got["db 1"]["kubernetes"]
    assert db["statefulset"] == {"name": "db"}
    assert "deployment" not in db
    assert got["db 1"]["container"]["image"] == {"name": "pg:16"}
    agent = got["agent 1"]["kubernetes"]
    assert agent["namespace"] == "ops"
    assert agent["daemonset"] == {"name": "agent"}
    assert "namespace_labels" not in agent  # ops has none
    assert "labels" not in agent


def test_a_pod_deleted_while_its_file_has_unread_lines_keeps_its_metadata(
    node: Node, api: KubeApiServer
) -> None:
    _three_pods(api)
    node.write("ops", "agent-q7", AGENT, "app", "before 1")
    pipeline = node.start({"deleted_pod_ttl": "5m"})
    wait_until(lambda: len(node.records()) == 1, timeout=30)
    api.delete_pod(AGENT)
    assert pipeline.kube is not None
    kube = pipeline.kube
    wait_until(lambda: kube.cache.deleted(AGENT), timeout=10)
    node.write("ops", "agent-q7", AGENT, "app", *[f"after {i}" for i in range(50)])
    records = wait_until(lambda: len(node.records()) == 51 and node.records(), timeout=30)
    for record in records:
        assert record["kubernetes"]["pod"]["name"] == "agent-q7"
        assert record["kubernetes"]["daemonset"] == {"name": "agent"}
        assert "kubernetes_metadata_missing" not in record.get("tags", [])


def test_a_pod_created_after_its_first_lines_are_written_gets_metadata_within_the_wait_bound(
    node: Node, api: KubeApiServer
) -> None:
    node.write("shop", "late-1", WEB, "app", "early 1", "early 2")
    node.start({"metadata_wait": "10s"})
    wait_until(lambda: api.count("/api/v1/pods?timeoutSeconds") >= 1, timeout=10)
    assert node.records() == []  # held in the file while the pod may still come
    api.put_pod(pod_doc("late-1", "shop", WEB, labels={"app": "late"}))
    records = wait_until(lambda: len(node.records()) == 2 and node.records(), timeout=10)
    for record in records:
        assert record["kubernetes"]["labels"] == {"app": "late"}
        assert "kubernetes_metadata_missing" not in record.get("tags", [])


def test_a_pod_that_never_comes_ships_after_the_wait_with_the_path_metadata_and_a_tag(
    node: Node, api: KubeApiServer
) -> None:
    node.write("shop", "ghost", WEB, "app", "boo")
    pipeline = node.start({"metadata_wait": "300ms"})
    [record] = wait_until(node.records, timeout=10)
    assert record["tags"] == ["parse_failure", "kubernetes_metadata_missing"]
    assert record["message"] == "boo"
    assert record["kubernetes"]["pod"] == {"name": "ghost", "uid": WEB}
    assert record["kubernetes"]["namespace"] == "shop"
    assert current_value(pipeline.kube.metrics.lines_without_metadata, {}, "_total") == 1  # type: ignore[union-attr]


def test_annotations_choose_rules_per_pod_and_container_multiline_and_exclude(
    node: Node, api: KubeApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    kv = [{"name": "kv", "regex": r"^k=(?P<labels.k>\S+) (?P<message>.*)$"}]
    uids = [f"4444444{i}-0000-0000-0000-00000000000{i}" for i in range(5)]
    api.put_pod(pod_doc("p-json", "apps", uids[0], annotations={"logship.io/parsers": "json"}))
    api.put_pod(
        pod_doc(
            "p-two",
            "apps",
            uids[1],
            annotations={"logship.io/parsers": "kv", "logship.io/parsers-side": "json"},
            containers={"main": "m:1", "side": "s:1"},
        )
    )
    api.put_pod(
        pod_doc("p-java", "apps", uids[2], annotations={"logship.io/multiline": "java_stacktrace"})
    )
    api.put_pod(
        pod_doc(
            "p-quiet",
            "apps",
            uids[3],
            annotations={"logship.io/exclude-noisy": "true"},
            containers={"noisy": "n:1", "app": "a:1"},
        )
    )
    api.put_pod(pod_doc("p-typo", "apps", uids[4], annotations={"logship.io/parsers": "jsno"}))
    node.write("apps", "p-json", uids[0], "app", '{"message": "from json", "user": "ann"}')
    node.write("apps", "p-two", uids[1], "main", "k=v1 from kv")
    node.write("apps", "p-two", uids[1], "side", '{"message": "from side"}')
    node.write(
        "apps",
        "p-java",
        uids[2],
        "app",
        "Exception in thread main java.lang.IllegalStateException: boom",
        "\tat com.example.Foo.bar(Foo.java:10)",
        "\tat com.example.Main.main(Main.java:3)",
        "next event",  # ends the trace's event (this one waits for flush_timeout)
    )
    node.write("apps", "p-quiet", uids[3], "noisy", *[f"noise {i}" for i in range(20)])
    node.write("apps", "p-quiet", uids[3], "app", "kept")
    node.write("apps", "p-typo", uids[4], "app", '{"message": "typo"}')
    pipeline = node.start(parsers=kv)

    wanted = {"p-json/app", "p-two/main", "p-two/side", "p-java/app", "p-quiet/app", "p-typo/app"}

    def shipped() -> dict[str, dict[str, Any]]:
        return {
            r["kubernetes"]["pod"]["name"] + "/" + r["kubernetes"]["container"]["name"]: r
            for r in node.records()
        }

    got = wait_until(lambda: wanted <= shipped().keys() and shipped(), timeout=30)
    assert set(got) == wanted
    assert got["p-json/app"]["message"] == "from json"
    assert got["p-json/app"]["user"] == "ann"
    assert got["p-two/main"]["message"] == "from kv"
    assert got["p-two/main"]["labels"] == {"k": "v1"}
    assert got["p-two/side"]["message"] == "from side"
    java = got["p-java/app"]["message"]
    assert java.startswith("Exception in thread main")
    assert java.endswith("\tat com.example.Main.main(Main.java:3)")
    assert "multiline" in got["p-java/app"]["log"]["flags"]
    assert "p-quiet/noisy" not in got
    assert got["p-quiet/app"]["message"] == "kept"
    # The unknown rule falls back to the input's chain (none: the raw line, tagged)
    typo = got["p-typo/app"]
    assert typo["message"] == '{"message": "typo"}'
    assert "parse_failure" in typo["tags"]
    metrics = pipeline.metrics
    dropped = current_value(
        metrics.records_dropped, {"input": "app", "rule": "logship.io/exclude"}, "_total"
    )
    assert dropped == 20
    kube = pipeline.kube
    assert kube is not None
    errors = current_value(
        kube.metrics.annotation_errors,
        {"namespace": "apps", "pod": "p-typo", "annotation": "logship.io/parsers"},
        "_total",
    )
    assert errors >= 1
    logged = [r for r in caplog.records if r.getMessage().startswith("Pod annotation ignored")]
    assert len(logged) == 1
    assert "jsno" in str(logged[0].__dict__.get("value"))


def test_a_changed_annotation_applies_to_lines_read_after_the_watch_event(
    node: Node, api: KubeApiServer
) -> None:
    api.put_pod(pod_doc("p", "apps", WEB))
    node.write("apps", "p", WEB, "app", '{"message": "one"}')
    node.start()
    wait_until(lambda: len(node.records()) == 1, timeout=30)
    api.put_pod(pod_doc("p", "apps", WEB, annotations={"logship.io/parsers": "json"}))
    assert node.pipeline is not None
    assert node.pipeline.kube is not None
    kube = node.pipeline.kube
    wait_until(lambda: (v := kube.lookup("apps", "p", WEB, "app")) and v.parsers, timeout=10)
    node.write("apps", "p", WEB, "app", '{"message": "two"}')
    records = wait_until(lambda: len(node.records()) == 2 and node.records(), timeout=30)
    assert records[0]["message"] == '{"message": "one"}'
    assert records[1]["message"] == "two"


def test_the_api_down_at_start_then_up_lines_flow_throughout_and_metadata_catches_up(
    node: Node, api: KubeApiServer
) -> None:
    _three_pods(api)
    api.down()
    node.write("ops", "agent-q7", AGENT, "app", "while down")
    pipeline = node.start()
    [first] = wait_until(node.records, timeout=30)
    assert "kubernetes_metadata_missing" in first["tags"]
    assert first["kubernetes"]["pod"]["name"] == "agent-q7"  # from the path
    live, checks = pipeline.health.liveness()
    kube = next(c for c in checks if c.component == "kubernetes")
    assert live
    assert kube.state == "api_unreachable"
    assert "pods" in kube.detail
    assert pipeline.kube is not None
    assert current_value(pipeline.kube.metrics.api_errors, {"resource": "pods"}, "_total") >= 1

    api.up()
    wait_until(
        lambda: pipeline.kube is not None and pipeline.kube.state.verdict()[0] == "synced",
        timeout=20,
    )
    node.write("ops", "agent-q7", AGENT, "app", "after up")
    records = wait_until(lambda: len(node.records()) == 2 and node.records(), timeout=30)
    assert records[1]["kubernetes"]["daemonset"] == {"name": "agent"}
    assert "kubernetes_metadata_missing" not in records[1]["tags"]
    _, checks = pipeline.health.liveness()
    assert next(c for c in checks if c.component == "kubernetes").state == "synced"


def test_a_dropped_watch_a_500_and_410_gone_re_list_without_duplicates_in_the_cache(
    node: Node, api: KubeApiServer
) -> None:
    _three_pods(api)
    node.write("ops", "agent-q7", AGENT, "app", "one")
    pipeline = node.start()
    kube = pipeline.kube
    assert kube is not None
    wait_until(lambda: len(node.records()) == 1, timeout=30)
    lists = api.count("/api/v1/pods?fieldSelector")
    assert lists == 1

    api.fail = 1
    api.drop_watches()  # the watch resumes from its version: no re-list
    wait_until(lambda: api.count("/api/v1/pods?timeoutSeconds") >= 2, timeout=10)
    errors = kube.metrics.api_errors
    wait_until(
        lambda: sum(
            current_value(errors, {"resource": r}, "_total") for r in ("pods", "namespaces")
        ),
        timeout=10,
    )
    api.put_pod(pod_doc("new-1", "ops", "55555555-0000-0000-0000-000000000005"))
    wait_until(lambda: len(kube.cache) == 4, timeout=10)
    assert api.count("/api/v1/pods?fieldSelector") == 1

    api.compact()  # every version seen is gone: 410, then a re-list
    wait_until(lambda: api.count("/api/v1/pods?fieldSelector") == 2, timeout=10)
    api.put_pod(pod_doc("new-2", "ops", "66666666-0000-0000-0000-000000000006"))
    wait_until(lambda: len(kube.cache) == 5, timeout=10)
    assert len(kube.cache) == 5  # uids: re-listed pods replace themselves
    restarts = kube.metrics.watch_restarts
    assert current_value(restarts, {"resource": "pods", "reason": "gone"}, "_total") >= 1
    assert current_value(kube.metrics.cached_pods, {}) == 5
    assert any("allowWatchBookmarks=true" in r for r in api.requests)
    node.write("ops", "new-2", "66666666-0000-0000-0000-000000000006", "app", "two")
    records = wait_until(lambda: len(node.records()) == 2 and node.records(), timeout=30)
    assert records[1]["kubernetes"]["pod"]["name"] == "new-2"


def test_a_reload_that_defines_the_rule_an_annotation_names_applies_it_to_later_lines(
    node: Node, api: KubeApiServer
) -> None:
    api.put_pod(pod_doc("p", "apps", WEB, annotations={"logship.io/parsers": "kv"}))
    node.write("apps", "p", WEB, "app", "k=1 before")
    pipeline = node.start()
    [first] = wait_until(node.records, timeout=30)
    assert first["message"] == "k=1 before"  # unknown rule: the input's (empty) chain
    assert "parse_failure" in first["tags"]

    path = node.tmp_path / "logship.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["parsers"] = [{"name": "kv", "regex": r"^k=(?P<labels.k>\S+) (?P<message>.*)$"}]
    pipeline.reload(load_config(write_config(path, doc)))
    # The tailer swaps the new inputs in between two rounds: lines read after that use them.
    wait_until(lambda: not pipeline.tailer.reload_pending, timeout=30)
    node.write("apps", "p", WEB, "app", "k=2 after")
    records = wait_until(lambda: len(node.records()) == 2 and node.records(), timeout=30)
    assert records[1]["message"] == "after"
    assert records[1]["labels"] == {"k": "2"}
