"""Node lifecycle planning: stale Leases make nodes Unknown and tainted, pods marked then evicted."""

from __future__ import annotations

from typing import Any

from raftkube.control.daemonset_nodes import NOT_READY, UNREACHABLE
from raftkube.control.node_lifecycle import eviction_delay, not_ready_status, plan_node

Obj = dict[str, Any]
NOW = "2024-01-01T00:00:00Z"
GRACE, EVICT = 8.0, 5.0


def node(ready: str | None = "True", reason: str = "KubeletReady", taints: list[Obj] | None = None) -> Obj:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": reason},
                                           {"type": "MemoryPressure", "status": "False"}]
    return {"metadata": {"name": "n1", "resourceVersion": "5"}, "spec": {"taints": taints or []},
            "status": {"conditions": conditions, "capacity": {"cpu": "2"}}}


def pod(name: str, ready: str = "True", tolerations: list[Obj] | None = None, phase: str = "Running",
        terminating: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}"}
    if terminating:
        meta["deletionTimestamp"] = NOW
    return {"metadata": meta, "spec": {"nodeName": "n1", "tolerations": tolerations or []},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}}


def cond(status: Obj, kind: str = "Ready") -> Obj:
    return next(c for c in status["conditions"] if c["type"] == kind)


def names(pods: list[Obj]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def test_fresh_lease_changes_nothing_and_rechecks_when_it_would_expire() -> None:
    plan = plan_node(node(), 3.0, GRACE, None, [pod("a")], EVICT, NOW)
    assert not plan.unhealthy and plan.status is None and plan.taints is None
    assert plan.mark == [] and plan.evict == []
    assert plan.requeue is not None and 5.0 <= plan.requeue <= 5.1


def test_stale_lease_sets_conditions_unknown_and_taints_unreachable() -> None:
    plan = plan_node(node(), 8.5, GRACE, None, [], EVICT, NOW)
    assert plan.unhealthy
    assert plan.status is not None
    ready = cond(plan.status)
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert cond(plan.status, "MemoryPressure")["status"] == "Unknown"
    assert plan.status["capacity"] == {"cpu": "2"}
    assert plan.taints == [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": NOW}]
    assert plan.event is not None and plan.event[0] == "NodeNotReady"


def test_node_without_any_ready_condition_goes_unknown_too() -> None:
    plan = plan_node(node(ready=None), 9.0, GRACE, None, [], EVICT, NOW)
    assert plan.status is not None and cond(plan.status)["reason"] == "NodeStatusNeverUpdated"


def test_pods_are_marked_at_once_and_evicted_after_the_grace() -> None:
    down = node(ready="Unknown", reason="NodeStatusUnknown", taints=[{"key": UNREACHABLE, "effect": "NoExecute"}])
    pods = [pod("a"), pod("b", ready="False"), pod("done", phase="Succeeded"), pod("going", terminating=True)]
    plan = plan_node(down, 20.0, GRACE, 1.0, pods, EVICT, NOW)
    assert plan.status is None and plan.taints is None  # already so
    assert names(plan.mark) == ["a"]
    assert plan.evict == []
    assert plan.requeue is not None and 4.0 <= plan.requeue <= 4.1
    plan = plan_node(down, 26.0, GRACE, 5.0, pods, EVICT, NOW)
    assert names(plan.evict) == ["a", "b", "going"]  # a terminating pod there is stuck too: grace 0


def test_tolerations_decide_the_eviction_delay() -> None:
    taint = {"key": UNREACHABLE, "effect": "NoExecute"}
    forever = pod("daemon", tolerations=[{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}])
    patient = pod("patient", tolerations=[{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                                           "tolerationSeconds": 60}])
    assert eviction_delay(forever, taint, EVICT) is None
    assert eviction_delay(patient, taint, EVICT) == 60.0
    assert eviction_delay(pod("plain"), taint, EVICT) == EVICT
    down = node(ready="Unknown", reason="NodeStatusUnknown", taints=[taint])
    plan = plan_node(down, 30.0, GRACE, 10.0, [forever, patient, pod("plain")], EVICT, NOW)
    assert names(plan.evict) == ["plain"]
    assert plan.requeue is not None and 50.0 <= plan.requeue <= 50.1


def test_renewed_lease_restores_ready_and_removes_the_taint() -> None:
    down = node(ready="Unknown", reason="NodeStatusUnknown",
                taints=[{"key": UNREACHABLE, "effect": "NoExecute"}, {"key": "mine", "effect": "NoSchedule"}])
    plan = plan_node(down, 0.5, GRACE, 12.0, [pod("a", ready="False")], EVICT, NOW)
    assert not plan.unhealthy
    assert plan.status is not None and cond(plan.status)["status"] == "True"
    assert plan.taints == [{"key": "mine", "effect": "NoSchedule"}]
    assert plan.mark == [] and plan.evict == []
    assert plan.event is not None and plan.event[0] == "NodeReady"


def test_a_controller_that_just_took_over_waits_for_a_renewal_before_restoring() -> None:
    down = node(ready="Unknown", reason="NodeStatusUnknown", taints=[{"key": UNREACHABLE, "effect": "NoExecute"}])
    plan = plan_node(down, 0.1, GRACE, None, [pod("a")], EVICT, NOW, renewed=False)
    assert plan.unhealthy and plan.status is None and plan.taints is None
    assert names(plan.mark) == ["a"] and plan.evict == []
    assert not plan_node(node(), 0.1, GRACE, None, [], EVICT, NOW, renewed=False).unhealthy


def test_node_reporting_not_ready_gets_the_not_ready_taint() -> None:
    plan = plan_node(node(ready="False"), 1.0, GRACE, None, [pod("a")], EVICT, NOW)
    assert plan.unhealthy and plan.status is None
    assert plan.taints == [{"key": NOT_READY, "effect": "NoExecute", "timeAdded": NOW}]
    assert names(plan.mark) == ["a"]


def test_not_ready_status_replaces_only_the_ready_condition() -> None:
    status = not_ready_status({"status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}}, NOW)
    assert status["podIP"] == "10.0.0.1"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [("PodScheduled", "True"), ("Ready", "False")]


def test_a_cordoned_node_gets_the_unschedulable_taint_and_loses_it_on_uncordon() -> None:
    cordoned = node(taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    cordoned["spec"]["unschedulable"] = True
    plan = plan_node(cordoned, 1.0, GRACE, None, [pod("a")], EVICT, NOW)
    assert plan.taints == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                           {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": NOW}]
    assert not plan.unhealthy and not plan.evict  # NoSchedule: the pods stay
    cordoned["spec"]["taints"] = plan.taints
    assert plan_node(cordoned, 1.0, GRACE, None, [], EVICT, NOW).taints is None  # already there
    cordoned["spec"]["unschedulable"] = False
    assert plan_node(cordoned, 1.0, GRACE, None, [], EVICT, NOW).taints == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    down = node(taints=plan.taints)
    down["spec"]["unschedulable"] = True
    stale = plan_node(down, 9.0, GRACE, None, [], EVICT, NOW)
    assert [t["key"] for t in stale.taints] == ["dedicated", "node.kubernetes.io/unschedulable", UNREACHABLE]
