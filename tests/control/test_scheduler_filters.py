"""Scheduler filters, each called directly on PodInfo/NodeInfo built from plain objects."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.control.scheduler import filters as f
from raftkube.control.scheduler.info import PodInfo, pod_requests
from raftkube.control.scheduler.nodeinfo import NodeInfo

Obj = dict[str, Any]


def node(name: str = "n1", cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict[str, str] | None = None,
         taints: list[Obj] | None = None, ready: str | None = "True", unschedulable: bool = False,
         extra: dict[str, str] | None = None, on: list[PodInfo] | None = None) -> NodeInfo:
    conditions = [{"type": "Ready", "status": ready}] if ready is not None else []
    obj = {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
           "spec": {"taints": taints or [], "unschedulable": unschedulable},
           "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})},
                      "conditions": conditions}}
    return NodeInfo.of(obj, on)


def pod(name: str = "p", cpu: str | None = None, memory: str | None = None, namespace: str = "default",
        labels: dict[str, str] | None = None, node_name: str = "", owner: str = "", **spec: Any) -> PodInfo:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}]
    body: Obj = {"containers": [{"name": "c", "image": "x", "resources": {"requests": requests}}], **spec}
    if node_name:
        body["nodeName"] = node_name
    return PodInfo.of({"metadata": meta, "spec": body})


def node_affinity(*terms: Obj) -> Obj:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> Obj:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


# ------------------------------------------------------------------ requests
def test_requests_sum_containers_and_take_the_largest_init_container() -> None:
    spec = {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                           {"resources": {"requests": {"cpu": "0.2"}, "limits": {"memory": "1Gi"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "500m"}}},
                               {"resources": {"requests": {"memory": "128Mi", "ephemeral-storage": "1Gi"}}}],
            "overhead": {"cpu": "10m"}}
    assert pod_requests(spec) == {"cpu": 510, "memory": (64 + 1024) * 2**20, "ephemeral-storage": 2**30}


def test_a_pod_without_requests_scores_with_kubernetes_defaults_but_fits_with_zero() -> None:
    info = pod()
    assert (info.cpu, info.memory) == (0, 0)
    assert (info.nz_cpu, info.nz_memory) == (100, 200 * 2**20)


# ------------------------------------------------------------------ node state
def test_node_ready_condition() -> None:
    assert f.node_ready(pod(), node()) is None
    assert f.node_ready(pod(), node(ready="False")) == f.NOT_READY
    assert f.node_ready(pod(), node(ready=None)) == f.NOT_READY
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}])
    assert f.node_ready(tolerant, node(ready="False")) is None


def test_cordoned_node_refuses_pods_unless_tolerated() -> None:
    assert f.node_schedulable(pod(), node(unschedulable=True)) == f.UNSCHEDULABLE
    assert f.node_schedulable(pod(), node()) is None
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                 "effect": "NoSchedule"}])
    assert f.node_schedulable(tolerant, node(unschedulable=True)) is None


# ------------------------------------------------------------------ resources
def test_resources_fit_counts_the_pods_already_on_the_node() -> None:
    busy = node(cpu="1", memory="1Gi", on=[pod("a", cpu="600m", memory="512Mi", node_name="n1")])
    assert f.insufficient(pod(cpu="400m", memory="512Mi"), busy) == []
    assert f.insufficient(pod(cpu="401m"), busy) == ["Insufficient cpu"]
    assert f.insufficient(pod(cpu="500m", memory="513Mi"), busy) == ["Insufficient cpu", "Insufficient memory"]


def test_pod_count_limit() -> None:
    full = node(pods="2", on=[pod("a", node_name="n1"), pod("b", node_name="n1")])
    assert f.insufficient(pod(), full) == [f.TOO_MANY_PODS]
    assert f.insufficient(pod(), node(pods="3", on=[pod("a", node_name="n1")])) == []


def test_ephemeral_storage_checked_only_when_requested_and_extended_resources() -> None:
    small = node()  # no ephemeral-storage allocatable
    assert f.insufficient(pod(), small) == []
    disk = PodInfo.of({"metadata": {"name": "d", "namespace": "x"}, "spec": {"containers": [
        {"resources": {"requests": {"ephemeral-storage": "1Gi", "example.com/gpu": "1"}}}]}})
    assert f.insufficient(disk, small) == ["Insufficient ephemeral-storage", "Insufficient example.com/gpu"]
    assert f.insufficient(disk, node(extra={"ephemeral-storage": "10Gi", "example.com/gpu": "2"})) == []


# ------------------------------------------------------------------ node selector and affinity
def test_node_selector_needs_every_label() -> None:
    ssd = node(labels={"disk": "ssd", "zone": "a"})
    assert f.node_affinity(pod(nodeSelector={"disk": "ssd"}), ssd) is None
    assert f.node_affinity(pod(nodeSelector={"disk": "ssd", "zone": "b"}), ssd) == f.NODE_AFFINITY


@pytest.mark.parametrize(("requirement", "fits"), [
    (expr("zone", "In", "a", "b"), True), (expr("zone", "In", "c"), False),
    (expr("zone", "NotIn", "c"), True), (expr("zone", "NotIn", "a"), False), (expr("missing", "NotIn", "a"), True),
    (expr("zone", "Exists"), True), (expr("missing", "Exists"), False),
    (expr("missing", "DoesNotExist"), True), (expr("zone", "DoesNotExist"), False),
    (expr("cores", "Gt", "8"), True), (expr("cores", "Gt", "16"), False), (expr("cores", "Lt", "17"), True),
    (expr("cores", "Lt", "16"), False), (expr("zone", "Gt", "1"), False), (expr("missing", "Lt", "1"), False),
])
def test_node_affinity_operators(requirement: Obj, fits: bool) -> None:
    target = node(labels={"zone": "a", "cores": "16"})
    wanted = pod(affinity=node_affinity({"matchExpressions": [requirement]}))
    assert (f.node_affinity(wanted, target) is None) is fits


def test_node_affinity_terms_are_ored_and_expressions_anded() -> None:
    target = node("n7", labels={"zone": "a", "disk": "ssd"})
    both = {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "hdd")]}
    assert f.node_affinity(pod(affinity=node_affinity(both)), target) == f.NODE_AFFINITY
    by_name = {"matchFields": [expr("metadata.name", "In", "n7")]}
    assert f.node_affinity(pod(affinity=node_affinity(both, by_name)), target) is None
    not_here = {"matchFields": [expr("metadata.name", "NotIn", "n7")]}
    assert f.node_affinity(pod(affinity=node_affinity(not_here)), target) == f.NODE_AFFINITY
    assert f.node_affinity(pod(affinity=node_affinity({})), target) == f.NODE_AFFINITY  # an empty term: none
    selector_and_affinity = pod(nodeSelector={"zone": "b"}, affinity=node_affinity(by_name))
    assert f.node_affinity(selector_and_affinity, target) == f.NODE_AFFINITY


# ------------------------------------------------------------------ taints
GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(("toleration", "tolerated"), [
    ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
    ({"key": "dedicated", "value": "gpu"}, True),  # no effect: all effects
    ({"key": "dedicated", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),  # an empty key with Exists tolerates everything
    ({"key": "dedicated", "value": "cpu"}, False),
    ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
])
def test_tolerations(toleration: Obj, tolerated: bool) -> None:
    result = f.taint_toleration(pod(tolerations=[toleration]), node(taints=[GPU]))
    assert (result is None) is tolerated


def test_taint_effects_and_message() -> None:
    assert f.taint_toleration(pod(), node(taints=[GPU])) == "node(s) had untolerated taint {dedicated: gpu}"
    noexec = {"key": "k", "value": "", "effect": "NoExecute"}
    assert f.taint_toleration(pod(), node(taints=[noexec])) == "node(s) had untolerated taint {k: }"
    assert f.taint_toleration(pod(), node(taints=[{"key": "k", "effect": "PreferNoSchedule"}])) is None


# ------------------------------------------------------------------ inter-pod affinity
def term(labels: Obj, key: str = "kubernetes.io/hostname", **extra: Any) -> Obj:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def anti(*terms: Obj) -> Obj:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def affinity(*terms: Obj) -> Obj:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def cluster(*placements: tuple[str, dict[str, str], list[PodInfo]]) -> dict[str, NodeInfo]:
    return {name: node(name, labels=labels, on=pods) for name, labels, pods in placements}


def check(incoming: PodInfo, nodes: dict[str, NodeInfo], ns_labels: dict[str, dict[str, str]] | None = None
          ) -> dict[str, str | None]:
    existing = [(p, n) for n in nodes.values() for p in n.pods.values()]
    state = f.interpod_prefilter(incoming, existing, [(p, n) for p, n in existing if p.anti_affinity], ns_labels)
    return {name: f.interpod(incoming, n, state) for name, n in nodes.items()}


def test_anti_affinity_by_hostname_and_by_zone() -> None:
    web = pod("w1", labels={"app": "web"}, node_name="a")
    nodes = cluster(("a", {"zone": "z1"}, [web]), ("b", {"zone": "z1"}, []), ("c", {"zone": "z2"}, []))
    by_host = pod("w2", labels={"app": "web"}, affinity=anti(term({"app": "web"})))
    assert check(by_host, nodes) == {"a": f.POD_ANTI_AFFINITY, "b": None, "c": None}
    by_zone = pod("w2", labels={"app": "web"}, affinity=anti(term({"app": "web"}, "zone")))
    assert check(by_zone, nodes) == {"a": f.POD_ANTI_AFFINITY, "b": f.POD_ANTI_AFFINITY, "c": None}
    other_ns = pod("w2", namespace="elsewhere", affinity=anti(term({"app": "web"})))
    assert check(other_ns, nodes) == {"a": None, "b": None, "c": None}  # terms select their own namespace


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    loner = pod("l", labels={"app": "db"}, node_name="a", affinity=anti(term({"app": "web"})))
    nodes = cluster(("a", {}, [loner]), ("b", {}, []))
    assert check(pod("w", labels={"app": "web"}), nodes) == {"a": f.EXISTING_ANTI_AFFINITY, "b": None}
    assert check(pod("x", labels={"app": "api"}), nodes) == {"a": None, "b": None}


def test_affinity_needs_a_matching_pod_in_the_domain() -> None:
    cache_pod = pod("c", labels={"app": "cache"}, node_name="a")
    nodes = cluster(("a", {"zone": "z1"}, [cache_pod]), ("b", {"zone": "z1"}, []), ("c", {"zone": "z2"}, []),
                    ("d", {}, []))
    near = pod("w", affinity=affinity(term({"app": "cache"}, "zone")))
    assert check(near, nodes) == {"a": None, "b": None, "c": f.POD_AFFINITY, "d": f.POD_AFFINITY}


def test_the_first_pod_of_a_self_affine_group_may_go_anywhere() -> None:
    nodes = cluster(("a", {}, []), ("b", {}, []))
    first = pod("g1", labels={"group": "g"}, affinity=affinity(term({"group": "g"})))
    assert check(first, nodes) == {"a": None, "b": None}
    stranger = pod("s", labels={"group": "other"}, affinity=affinity(term({"group": "g"})))
    assert check(stranger, nodes) == {"a": f.POD_AFFINITY, "b": f.POD_AFFINITY}


def test_affinity_term_namespaces_and_namespace_selector() -> None:
    web = pod("w1", namespace="team-a", labels={"app": "web"}, node_name="a")
    nodes = cluster(("a", {}, [web]), ("b", {}, []))
    listed = pod("p", namespace="mine", affinity=anti(term({"app": "web"}, namespaces=["team-a"])))
    assert check(listed, nodes) == {"a": f.POD_ANTI_AFFINITY, "b": None}
    selected = pod("p", namespace="mine", affinity=anti(term({"app": "web"},
                                                             namespaceSelector={"matchLabels": {"team": "a"}})))
    assert check(selected, nodes, {"team-a": {"team": "a"}}) == {"a": f.POD_ANTI_AFFINITY, "b": None}
    assert check(selected, nodes, {"team-a": {"team": "b"}}) == {"a": None, "b": None}
    everywhere = pod("p", namespace="mine", affinity=anti(term({"app": "web"}, namespaceSelector={})))
    assert check(everywhere, nodes) == {"a": f.POD_ANTI_AFFINITY, "b": None}


def test_a_term_without_label_selector_selects_nothing() -> None:
    nodes = cluster(("a", {}, [pod("w1", labels={"app": "web"}, node_name="a")]))
    blind = pod("p", affinity=anti({"topologyKey": "kubernetes.io/hostname"}))
    assert check(blind, nodes) == {"a": None}


# ------------------------------------------------------------------ all filters and the message
def test_run_filters_stops_at_the_first_failing_filter_and_lists_resource_reasons() -> None:
    assert f.run_filters(pod(cpu="8"), node(ready="False", taints=[GPU])) == [f.NOT_READY]
    assert f.run_filters(pod(cpu="8"), node(taints=[GPU])) == ["node(s) had untolerated taint {dedicated: gpu}"]
    assert f.run_filters(pod(cpu="8", memory="16Gi"), node()) == ["Insufficient cpu", "Insufficient memory"]
    assert f.run_filters(pod(cpu="1"), node()) == []


def test_fit_error_reads_like_kubernetes() -> None:
    message = f.fit_error(3, {f.NODE_AFFINITY: 2, "Insufficient cpu": 1})
    assert message == "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node " \
                      "affinity/selector."
    assert f.fit_error(0, {}) == "0/0 nodes are available: no nodes available to schedule pods."
