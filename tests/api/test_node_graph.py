"""The Node authorizer's graph: what a pod references, and references counted per node."""

from __future__ import annotations

from raftkube.api.authz.node_graph import NodeGraph, pod_references


def test_pod_references_every_place_a_pod_names_an_object() -> None:
    pod = {"metadata": {"name": "web", "namespace": "shop"}, "spec": {
        "serviceAccountName": "builder", "imagePullSecrets": [{"name": "registry"}],
        "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
        "containers": [{"name": "c", "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm-a",
                                                                                           "key": "k"}}}]}],
        "volumes": [{"name": "p", "projected": {"sources": [{"secret": {"name": "proj-s"}},
                                                            {"configMap": {"name": "proj-c"}}]}},
                    {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}},
                    {"name": "csi", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-s"}}}]}}
    assert pod_references(pod) == {
        ("serviceaccounts", "builder"), ("secrets", "registry"), ("secrets", "init-env"), ("configmaps", "cm-a"),
        ("secrets", "proj-s"), ("configmaps", "proj-c"), ("persistentvolumeclaims", "data"),
        ("persistentvolumeclaims", "web-scratch"), ("secrets", "csi-s")}
    assert pod_references({"metadata": {"name": "x"}, "spec": {}}) == {("serviceaccounts", "default")}


def test_references_counted_per_node_until_the_last_pod_goes() -> None:
    graph = NodeGraph(None)  # type: ignore[arg-type]  # indexing needs no storage

    def pod(name: str, node: str) -> dict:
        return {"metadata": {"name": name, "namespace": "ns"},
                "spec": {"nodeName": node, "volumes": [{"name": "s", "secret": {"secretName": "shared"}}]}}

    graph.index({"metadata": {"name": "pending", "namespace": "ns"}, "spec": {"volumes": [
        {"name": "s", "secret": {"secretName": "pending-only"}}]}})
    assert not graph.references("n1", "secrets", "ns", "pending-only")  # not bound: nobody's
    graph.index(pod("a", "n1"))
    graph.index(pod("b", "n1"))
    assert graph.references("n1", "secrets", "ns", "shared") and graph.node_of("ns", "a") == "n1"
    assert not graph.references("n2", "secrets", "ns", "shared")
    assert not graph.references("n1", "secrets", "other", "shared")
    graph.forget(("ns", "a"))
    assert graph.references("n1", "secrets", "ns", "shared")
    graph.forget(("ns", "b"))
    assert not graph.references("n1", "secrets", "ns", "shared") and graph.node_of("ns", "b") is None
