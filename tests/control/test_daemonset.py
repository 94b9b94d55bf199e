"""DaemonSet planning: eligible nodes, bound pods, rolling updates, status; node predicates."""

from __future__ import annotations

import copy
from typing import Any

from raftkube.control.daemonset import HASH_LABEL, max_unavailable, plan_daemonset, template_hash
from raftkube.control.daemonset_nodes import (
    UNREACHABLE,
    daemon_tolerations,
    selected,
    should_continue,
    should_run,
    tolerates,
)

Obj = dict[str, Any]
NOW = 1_700_000_000.0


def node(name: str, ready: str = "True", labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
         unschedulable: bool = False) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or [], **({"unschedulable": True} if unschedulable else {})},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def daemonset(template_spec: Obj | None = None, max_unavail: Any = 1, strategy: str = "RollingUpdate") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ns", "uid": "ds-uid", "generation": 3},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": {"type": strategy, "rollingUpdate": {"maxUnavailable": max_unavail}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": template_spec or {"containers": [{"name": "c", "image": "i"}]}}}}


def pod(name: str, node_name: str, ds: Obj, *, revision: str | None = None, ready: bool = True,
        phase: str = "Running", terminating: bool = False, created: str = "2024-01-01T00:00:00Z") -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": created,
                 "labels": {"app": "agent", HASH_LABEL: revision or template_hash(ds)},
                 "ownerReferences": [{"kind": "DaemonSet", "name": "agent", "uid": "ds-uid", "controller": True}]}
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node_name},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def names(pods: list[Obj]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def test_one_pod_per_ready_schedulable_node() -> None:
    ds = daemonset()
    nodes = [node("a"), node("b"), node("c", ready="False"), node("d", unschedulable=True), node("e", ready="Unknown")]
    plan = plan_daemonset(ds, nodes, [pod("pa", "a", ds)], NOW)
    assert plan.create == ["b"]
    assert plan.delete == []
    assert plan.status["desiredNumberScheduled"] == 2
    assert plan.status["currentNumberScheduled"] == 1
    assert plan.status["numberReady"] == 1
    assert plan.status["observedGeneration"] == 3


def test_node_selector_and_required_affinity() -> None:
    spec = {"nodeSelector": {"role": "edge"}, "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}]}}}}
    assert selected(node("a", labels={"role": "edge", "zone": "z1"}), spec)
    assert not selected(node("b", labels={"role": "edge", "zone": "z3"}), spec)
    assert selected(node("special", labels={"role": "edge"}), spec)
    assert not selected(node("special", labels={"role": "core"}), spec)
    ds = daemonset({"containers": [{"name": "c", "image": "i"}], **spec})
    plan = plan_daemonset(ds, [node("a", labels={"role": "edge", "zone": "z2"}), node("b")], [], NOW)
    assert plan.create == ["a"]


def test_gt_lt_and_empty_terms() -> None:
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]}}}}
    assert selected(node("a", labels={"cores": "8"}), spec)
    assert not selected(node("b", labels={"cores": "2"}), spec)
    assert not selected(node("c", labels={"cores": "many"}), spec)
    empty: Obj = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{}]}}}}
    assert not selected(node("d"), empty)


def test_taints_must_be_tolerated() -> None:
    tainted = node("t", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    soft = node("s", taints=[{"key": "x", "effect": "PreferNoSchedule"}])
    assert not should_run(tainted, {})
    assert should_run(soft, {})
    assert should_continue(tainted, {})  # NoSchedule does not evict
    spec = {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}
    assert should_run(tainted, spec)
    assert should_run(tainted, {"tolerations": [{"operator": "Exists"}]})
    assert not should_run(tainted, {"tolerations": [{"key": "dedicated", "value": "cpu"}]})
    evicting = node("e", taints=[{"key": "k", "effect": "NoExecute"}])
    assert not should_continue(evicting, {})


def test_toleration_matching_rules() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert tolerates({"key": "k", "operator": "Exists"}, taint)
    assert tolerates({"key": "k", "value": "v"}, taint)
    assert not tolerates({"key": "k", "value": "w"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert not tolerates({"key": "", "operator": "Equal"}, taint)


def test_daemon_pods_tolerate_unreachable_nodes() -> None:
    tolerations = daemon_tolerations({"tolerations": [{"key": "a", "operator": "Exists"}]})
    assert {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"} in tolerations
    assert daemon_tolerations({"tolerations": tolerations}) == tolerations  # idempotent
    ds = daemonset()
    down = node("a", ready="Unknown", taints=[{"key": UNREACHABLE, "effect": "NoExecute"}])
    plan = plan_daemonset(ds, [down], [pod("pa", "a", ds)], NOW)
    assert plan.delete == [] and plan.create == []  # kept, but no new pod there
    assert plan.status["desiredNumberScheduled"] == 0
    assert plan.status["numberMisscheduled"] == 1


def test_pods_on_unfit_or_missing_nodes_are_deleted() -> None:
    ds = daemonset({"containers": [{"name": "c", "image": "i"}], "nodeSelector": {"role": "edge"}})
    pods = [pod("gone", "vanished", ds), pod("unfit", "b", ds), pod("fine", "a", ds)]
    plan = plan_daemonset(ds, [node("a", labels={"role": "edge"}), node("b")], pods, NOW)
    assert names(plan.delete) == ["gone", "unfit"]
    assert plan.create == []


def test_duplicates_keep_the_oldest_ready_and_failed_are_replaced() -> None:
    ds = daemonset()
    pods = [pod("old", "a", ds, created="2024-01-01T00:00:00Z"), pod("new", "a", ds, created="2024-01-02T00:00:00Z"),
            pod("dead", "b", ds, phase="Failed")]
    plan = plan_daemonset(ds, [node("a"), node("b")], pods, NOW)
    assert names(plan.delete) == ["dead", "new"]
    assert plan.create == ["b"]


def test_terminating_pods_do_not_count() -> None:
    ds = daemonset()
    plan = plan_daemonset(ds, [node("a")], [pod("going", "a", ds, terminating=True)], NOW)
    assert plan.create == ["a"] and plan.delete == []


def test_rolling_update_respects_max_unavailable() -> None:
    old = daemonset()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    assert template_hash(new) != template_hash(old)
    nodes = [node(n) for n in ("a", "b", "c", "d")]
    pods = [pod(f"p{n}", n, old) for n in ("a", "b", "c", "d")]
    plan = plan_daemonset(new, nodes, pods, NOW)
    assert names(plan.delete) == ["pa"]  # one at a time
    assert plan.status["updatedNumberScheduled"] == 0
    # a replaced node that is not yet available uses the whole budget
    pods = [pod("pa2", "a", new, ready=False)] + pods[1:]
    assert plan_daemonset(new, nodes, pods, NOW).delete == []
    pods[0] = pod("pa2", "a", new)
    plan = plan_daemonset(new, nodes, pods, NOW)
    assert names(plan.delete) == ["pb"]
    assert plan.status["updatedNumberScheduled"] == 1


def test_rolling_update_percentages_and_unavailable_old_pods() -> None:
    old = daemonset(max_unavail="50%")
    new = copy.deepcopy(old)
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    assert max_unavailable(new, 3) == 2
    assert max_unavailable(daemonset(max_unavail=0), 3) == 1
    nodes = [node(n) for n in ("a", "b", "c")]
    pods = [pod("pa", "a", old, ready=False), pod("pb", "b", old), pod("pc", "c", old)]
    plan = plan_daemonset(new, nodes, pods, NOW)
    assert names(plan.delete) == ["pa", "pb"]  # the broken one is free, one more within 2


def test_on_delete_strategy_never_replaces() -> None:
    old = daemonset(strategy="OnDelete")
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    plan = plan_daemonset(new, [node("a")], [pod("pa", "a", old)], NOW)
    assert plan.delete == [] and plan.create == []


def test_deleting_daemonset_does_nothing_but_status() -> None:
    ds = daemonset()
    ds["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    plan = plan_daemonset(ds, [node("a"), node("b")], [pod("pa", "a", ds)], NOW)
    assert plan.create == [] and plan.delete == []
    assert plan.status["currentNumberScheduled"] == 1


def test_pods_of_other_owners_are_ignored() -> None:
    ds = daemonset()
    stranger = pod("x", "a", ds)
    stranger["metadata"]["ownerReferences"][0]["uid"] = "other"
    plan = plan_daemonset(ds, [node("a")], [stranger], NOW)
    assert plan.create == ["a"] and plan.delete == []
