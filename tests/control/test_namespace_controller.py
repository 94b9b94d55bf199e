"""Namespace controller planning: what to delete, what remains, conditions, when to finalize."""

from __future__ import annotations

from typing import Any

from raftkube.api.resources import Resource, by_kind
from raftkube.control.namespace import CONTENT, merge_conditions, plan_namespace

Obj = dict[str, Any]
NOW = "2024-01-01T00:00:00Z"

def resource(api_version: str, kind: str) -> Resource:
    found = by_kind(api_version, kind)
    assert found is not None
    return found


PODS, CONFIGMAPS, RS = resource("v1", "Pod"), resource("v1", "ConfigMap"), resource("apps/v1", "ReplicaSet")


def namespace(terminating: bool = True, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": "team"}
    if terminating:
        meta["deletionTimestamp"] = NOW
    return {"metadata": meta, "spec": {"finalizers": ["kubernetes"] if finalizers is None else finalizers}}


def item(name: str, deleting: bool = False, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "team"}
    if deleting:
        meta["deletionTimestamp"] = NOW
    if finalizers:
        meta["finalizers"] = finalizers
    return {"metadata": meta}


def conditions(plan_conditions: list[Obj]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["message"]) for c in plan_conditions}


def test_active_or_finalized_namespaces_are_left_alone() -> None:
    assert plan_namespace(namespace(terminating=False), {PODS: [item("p")]}, NOW).delete == []
    done = plan_namespace(namespace(finalizers=[]), {PODS: [item("p")]}, NOW)
    assert done.delete == [] and not done.finalize


def test_content_not_yet_deleted_is_deleted_per_resource() -> None:
    plan = plan_namespace(namespace(), {PODS: [item("a"), item("b", deleting=True)], CONFIGMAPS: [item("c")],
                                        RS: [item("r", deleting=True)]}, NOW)
    assert [r.plural for r in plan.delete] == ["configmaps", "pods"]
    assert plan.remaining == {"configmaps": 1, "pods": 2, "replicasets.apps": 1}
    assert not plan.finalize
    assert conditions(plan.conditions)["NamespaceContentRemaining"][0] == "True"
    assert "pods has 2 resource instances" in conditions(plan.conditions)["NamespaceContentRemaining"][1]


def test_remaining_finalizers_are_reported() -> None:
    plan = plan_namespace(namespace(), {RS: [item("r", deleting=True, finalizers=["foregroundDeletion"])]}, NOW)
    assert plan.delete == []
    status, message = conditions(plan.conditions)["NamespaceFinalizersRemaining"]
    assert status == "True" and "foregroundDeletion in 1 resource instances" in message


def test_finalize_when_empty() -> None:
    plan = plan_namespace(namespace(), {r: [] for r in CONTENT}, NOW)
    assert plan.finalize and plan.delete == []
    assert conditions(plan.conditions)["NamespaceContentRemaining"][0] == "False"


def test_every_namespaced_resource_is_content() -> None:
    kinds = {r.kind for r in CONTENT}
    assert {"Pod", "Service", "Endpoints", "ConfigMap", "Secret", "Event", "Deployment", "ReplicaSet", "DaemonSet",
            "Job", "Lease"} <= kinds
    assert "Namespace" not in kinds and "Node" not in kinds


def test_merge_conditions_keeps_unchanged_transition_times() -> None:
    old = [{"type": "NamespaceContentRemaining", "status": "True", "reason": "r", "message": "m",
            "lastTransitionTime": "t0"}, {"type": "Other", "status": "True"}]
    same = [{"type": "NamespaceContentRemaining", "status": "True", "reason": "r", "message": "m",
             "lastTransitionTime": "t1"}]
    assert merge_conditions(old, same) == [old[1], old[0]]
    changed = [{**same[0], "status": "False"}]
    assert merge_conditions(old, changed) == [old[1], changed[0]]
