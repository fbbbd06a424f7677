"""The pod cache, the fields it builds, the settings and the per-pod chains, without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lightkube.resources.core_v1 import Pod

from logship.app.config_file import ConfigError, load_config
from logship.app.kube_wiring import AnnotationRules
from logship.app.pipeline import Pipeline, StartupError
from logship.kube.cache import PodCache
from logship.kube.objects import PodInfo, pod_info
from logship.tail.container import kubernetes_fields
from logship.tail.pod_context import FilePod, PodBinding, PodChain
from parsers.chain import ParserChain
from parsers.section import ParsersSettings
from tests.doubles.kube_api import pod_doc
from tests.harness import config_doc, write_config

UID = "11111111-0000-0000-0000-000000000001"


def info(**kwargs: Any) -> PodInfo:
    name, namespace, uid = (
        kwargs.pop("name", "web-1"),
        kwargs.pop("namespace", "shop"),
        kwargs.pop("uid", UID),
    )
    doc = pod_doc(name, namespace, uid, **kwargs)
    return pod_info(Pod.from_dict(doc), lambda ns, rs: "web" if rs == "web-5d9f" else None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_deleted_pod_keeps_its_metadata_for_its_ttl_then_is_forgotten() -> None:
    clock = Clock()
    cache = PodCache(60.0, True, [], clock)
    cache.put(info())
    cache.delete(UID)
    clock.now += 59
    assert cache.lookup("shop", "web-1", UID, "app") is not None
    assert cache.lookup("shop", "web-1", None, "app") is not None
    clock.now += 2
    assert cache.lookup("shop", "web-1", UID, "app") is None
    cache.expire()
    assert len(cache) == 0
    assert cache.lookup("shop", "web-1", None, "app") is None


def test_a_re_list_keeps_pods_it_no_longer_has_as_deleted_and_holds_each_uid_once() -> None:
    clock = Clock()
    cache = PodCache(60.0, True, [], clock)
    cache.put(info())
    other = info(name="db-0", uid="22222222-0000-0000-0000-000000000002")
    cache.replace([other])
    assert cache.deleted(UID)
    cache.replace([other, info()])
    assert len(cache) == 2
    assert not cache.deleted(UID)


def test_a_var_log_containers_path_finds_its_pod_by_namespace_and_name() -> None:
    cache = PodCache(60.0, True, [], Clock())
    cache.put(info(labels={"app": "web"}))
    fields = kubernetes_fields("/var/log/containers/web-1_shop_app-" + "a" * 64 + ".log")
    assert fields is not None
    binding = PodBinding(cache_source(cache), AnnotationRules(ParsersSettings()))
    pod = FilePod(binding, fields, 0.0)
    assert not pod.waiting(0.0)
    chain = ParserChain([], "h")
    got, _, _ = pod.apply(chain, settings())
    assert got["kubernetes"]["labels"] == {"app": "web"}
    assert got["kubernetes"]["pod"]["uid"] == UID


def test_dots_in_label_keys_become_underscores_and_slashes_stay() -> None:
    cache = PodCache(60.0, True, ["example.com/team"], Clock())
    cache.put(
        info(
            labels={"app.kubernetes.io/name": "web", "app": "x"},
            annotations={"example.com/team": "a", "other": "b"},
        )
    )
    view = cache.lookup("shop", "web-1", UID, "app")
    assert view is not None
    assert view.fields["kubernetes"]["labels"] == {"app_kubernetes_io/name": "web", "app": "x"}
    assert view.fields["kubernetes"]["annotations"] == {"example_com/team": "a"}


def test_owners_name_the_deployment_through_the_replicaset_and_the_cronjob_through_the_job() -> (
    None
):
    assert info(owner=("ReplicaSet", "web-5d9f")).owners == {
        "replicaset": "web-5d9f",
        "deployment": "web",
    }
    assert info(owner=("Job", "backup-29012345")).owners == {
        "job": "backup-29012345",
        "cronjob": "backup",
    }
    assert info(owner=("Job", "migrate")).owners == {"job": "migrate"}


def test_a_container_annotation_wins_over_the_pods() -> None:
    cache = PodCache(60.0, True, [], Clock())
    annotations = {"logship.io/parsers": "json", "logship.io/parsers-side": "logfmt"}
    cache.put(info(annotations=annotations, containers={"app": "a", "side": "s"}))
    app = cache.lookup("shop", "web-1", UID, "app")
    side = cache.lookup("shop", "web-1", UID, "side")
    assert app is not None
    assert side is not None
    assert app.parsers == ("logship.io/parsers", "json")
    assert side.parsers == ("logship.io/parsers-side", "logfmt")


def test_a_pods_chain_is_built_once_per_input_chain_and_annotation() -> None:
    rules = AnnotationRules(ParsersSettings())
    binding = PodBinding(cache_source(PodCache(60.0, True, [], Clock())), rules)
    base = ParserChain([], "h")
    first = binding.chain(base, ("json", "logfmt"), False, False)
    assert isinstance(first, PodChain)
    assert [r.name for r in first.rules] == ["json", "logfmt"]
    assert binding.chain(base, ("json", "logfmt"), False, False) is first
    assert binding.chain(base, None, False, False) is base
    assert rules.rules(["json"])[0] is first.rules[0]  # compiled once
    with pytest.raises(LookupError, match="unknown parser rule 'jsno'; did you mean 'json'"):
        rules.rules(["jsno"])


def test_a_missing_node_name_is_a_config_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NODE_NAME", raising=False)
    doc = config_doc(tmp_path, agent={"kubernetes": {}})
    with pytest.raises(ConfigError, match=r"agent\.kubernetes.*node_name.*NODE_NAME"):
        load_config(write_config(tmp_path / "c.yaml", doc))
    monkeypatch.setenv("NODE_NAME", "node-7")
    config = load_config(write_config(tmp_path / "c.yaml", doc))
    assert config.agent.kubernetes is not None
    assert config.agent.kubernetes.node == "node-7"
    assert config.agent.kubernetes.metadata_wait == 2.0
    assert config.agent.kubernetes.deleted_pod_ttl == 300.0


def test_a_kubeconfig_that_cannot_be_loaded_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    doc = config_doc(
        tmp_path,
        agent={
            "http": {"address": None},
            "kubernetes": {"kubeconfig": str(tmp_path / "nope"), "node_name": "n"},
        },
    )
    pipeline = Pipeline(load_config(write_config(tmp_path / "c.yaml", doc)))
    try:
        with pytest.raises(StartupError, match=r"agent\.kubernetes\.kubeconfig: cannot load"):
            pipeline.open()
    finally:
        pipeline.release()


# --- helpers ----------------------------------------------------------------------------------


def settings() -> Any:
    from logship.tail.settings import InputSettings

    return InputSettings(name="app", paths=["/x/*.log"], container="cri")


def cache_source(cache: PodCache) -> Any:
    """A PodSource over a bare cache (what logship.kube.source.KubeMetadata serves)."""

    class Source:
        wait = 1.0
        reachable = True
        errors: list[tuple[str, ...]] = []  # noqa: RUF012

        def lookup(self, namespace: str, pod: str, uid: str | None, container: str) -> Any:
            return cache.lookup(namespace, pod, uid, container)

        def without_metadata(self, lines: int) -> None:
            pass

        def annotation_error(self, *args: str) -> None:
            self.errors.append(args)

    return Source()


def test_records_of_one_file_never_share_the_pods_metadata_objects() -> None:
    from logship.core.lines import Lines

    cache = PodCache(60.0, True, [], Clock())
    cache.put(info(labels={"app": "web"}))
    view = cache.lookup("shop", "web-1", UID, "app")
    assert view is not None
    lines = Lines(texts=["a", "b"], starts=[0, 2], end=4, times=["", ""], streams=["stdout"] * 2)
    records, _ = ParserChain([], "h").parse(lines, {"path": "p"}, "t", view.fields)
    records[0]["kubernetes"]["labels"]["app"] = "changed"
    records[0]["container"]["image"]["name"] = "changed"
    assert records[1]["kubernetes"]["labels"] == {"app": "web"}
    assert records[1]["container"]["image"] == {"name": "example/app:1"}
    assert view.fields["kubernetes"]["labels"] == {"app": "web"}
