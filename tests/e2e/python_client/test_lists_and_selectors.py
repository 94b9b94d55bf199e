"""The official kubernetes Python client against raftkube: pagination (everything exactly once, a
consistent snapshot) and label and field selectors (the cluster: tests/e2e/python_client/conftest.py)."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.e2e.python_client.support import configmap, meta, pod_spec, status_of

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def test_pagination_returns_everything_exactly_once(core: client.CoreV1Api, ns: str) -> None:
    names = [f"page-{i:02d}" for i in range(23)]
    for i, name in enumerate(names):
        core.create_namespaced_config_map(ns, configmap(name, parity="even" if i % 2 == 0 else "odd"))
    seen: list[str] = []
    token, pages, versions = None, 0, set()
    while pages < 50:
        page = core.list_namespaced_config_map(ns, limit=5, _continue=token)
        pages += 1
        seen += [c.metadata.name for c in page.items]
        versions.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
        assert len(page.items) == 5
    assert seen == names and pages == 5
    assert len(versions) == 1, "every page reports the snapshot the first one was read at"

    odd: list[str] = []
    token = None
    for _ in range(50):
        page = core.list_namespaced_config_map(ns, limit=4, _continue=token, label_selector="parity=odd")
        odd += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert odd == names[1::2]
    code, body = status_of(lambda: core.list_namespaced_config_map(ns, limit=5, _continue="not-a-token"))
    assert code in (400, 410) and body["kind"] == "Status"


def test_pagination_is_a_consistent_snapshot(core: client.CoreV1Api, ns: str) -> None:
    """Continue pages come from the first page's revision, as with etcd: later writes are not seen."""
    for i in range(10):
        core.create_namespaced_config_map(ns, configmap(f"snap-{i:02d}", {"v": "0"}))
    first = core.list_namespaced_config_map(ns, limit=5)
    list_rv = int(first.metadata.resource_version)
    core.create_namespaced_config_map(ns, configmap("zz-created-meanwhile"))
    core.patch_namespaced_config_map("snap-08", ns, {"data": {"v": "changed"}})
    rest = core.list_namespaced_config_map(ns, limit=100, _continue=first.metadata._continue)
    names = [c.metadata.name for c in first.items + rest.items]
    assert names == [f"snap-{i:02d}" for i in range(10)], "an object created after the snapshot was listed"
    late = next(c for c in rest.items if c.metadata.name == "snap-08")
    assert late.data == {"v": "0"} and int(late.metadata.resource_version) <= list_rv


def test_label_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    for name, labels in [("a", {"env": "dev", "tier": "web"}), ("b", {"env": "prod", "tier": "web"}),
                         ("c", {"env": "staging"}), ("d", {})]:
        core.create_namespaced_config_map(ns, configmap(name, **labels))

    def names(**kwargs: str) -> list[str]:
        return sorted(c.metadata.name for c in core.list_namespaced_config_map(ns, **kwargs).items)

    assert names(label_selector="env=dev") == ["a"]
    assert names(label_selector="env==prod") == ["b"]
    assert names(label_selector="env!=dev") == ["b", "c", "d"]
    assert names(label_selector="env in (dev,staging)") == ["a", "c"]
    assert names(label_selector="env notin (dev,staging)") == ["b", "d"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "d"]
    assert names(label_selector="tier=web,env in (prod)") == ["b"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c,metadata.namespace=" + ns) == ["a", "b", "d"]
    assert names(field_selector="metadata.name=c", label_selector="env=dev") == []
    everywhere = core.list_config_map_for_all_namespaces(field_selector="metadata.name=b",
                                                         label_selector="env=prod")
    assert [(c.metadata.namespace, c.metadata.name) for c in everywhere.items] == [(ns, "b")]
    code, body = status_of(lambda: names(label_selector="env in (dev"))
    assert code == 400 and body["reason"] == "BadRequest"
    code, body = status_of(lambda: names(field_selector="data.k=v"))
    assert code == 400 and body["reason"] == "BadRequest"

    core.delete_collection_namespaced_config_map(ns, label_selector="tier=web")
    assert names() == ["c", "d"]

    core.create_namespaced_pod(ns, client.V1Pod(metadata=meta("p1"), spec=pod_spec("c")))
    pods = core.list_namespaced_pod(ns, field_selector="status.phase=Pending,spec.nodeName=")
    assert [p.metadata.name for p in pods.items] == ["p1"]
    assert not core.list_namespaced_pod(ns, field_selector="status.phase=Running").items
