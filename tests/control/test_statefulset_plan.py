"""The StatefulSet controller's ordinal logic: ordered creation, reverse scale-down, Parallel,
rolling update with a partition, OnDelete, failed-pod replacement, identity, claims, status and adoption."""

from __future__ import annotations

from typing import Any

from raftkube.control.statefulset_history import new_revision, same_template, template_of_revision, to_truncate
from raftkube.control.statefulset_plan import (
    adoption,
    claim_name,
    new_claims,
    new_pod,
    ordinal_of,
    plan_statefulset,
)

Obj = dict[str, Any]
NOW = 1_000_000.0
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1",
                                     "volumeMounts": [{"name": "www", "mountPath": "/data"}]}]}}


def sts(replicas: int = 3, *, policy: str = "OrderedReady", partition: int = 0, strategy: str = "RollingUpdate",
        when_scaled: str = "Retain") -> Obj:
    update: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"partition": partition}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 2},
            "spec": {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE, "updateStrategy": update,
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": when_scaled},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}


def pod(ordinal: int, *, revision: str = "rev1", ready: bool = True, phase: str = "Running",
        terminating: bool = False) -> Obj:
    meta: Obj = {"name": f"web-{ordinal}", "namespace": "ns", "uid": f"p{ordinal}",
                 "labels": {"app": "web", "controller-revision-hash": revision}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_ordered_ready_creates_one_pod_at_a_time_and_waits_for_readiness() -> None:
    assert plan_statefulset(sts(), [], "rev1", "rev1", NOW).create == [(0, "rev1")]
    assert plan_statefulset(sts(), [pod(0, ready=False)], "rev1", "rev1", NOW).create == []
    assert plan_statefulset(sts(), [pod(0, phase="Pending", ready=False)], "rev1", "rev1", NOW).create == []
    assert plan_statefulset(sts(), [pod(0)], "rev1", "rev1", NOW).create == [(1, "rev1")]
    assert plan_statefulset(sts(), [pod(0), pod(1)], "rev1", "rev1", NOW).create == [(2, "rev1")]


def test_a_missing_middle_ordinal_is_recreated_first() -> None:
    plan = plan_statefulset(sts(), [pod(0), pod(2)], "rev1", "rev1", NOW)
    assert plan.create == [(1, "rev1")] and plan.delete == []


def test_parallel_creates_every_missing_pod_at_once() -> None:
    plan = plan_statefulset(sts(4, policy="Parallel"), [pod(1, ready=False)], "rev1", "rev1", NOW)
    assert plan.create == [(0, "rev1"), (2, "rev1"), (3, "rev1")]


def test_scale_down_deletes_highest_ordinal_first_one_at_a_time() -> None:
    pods = [pod(i) for i in range(5)]
    assert names(plan_statefulset(sts(2), pods, "rev1", "rev1", NOW).delete) == ["web-4"]
    waiting = [*pods[:4], pod(4, terminating=True)]
    assert plan_statefulset(sts(2), waiting, "rev1", "rev1", NOW).delete == []
    assert names(plan_statefulset(sts(2, policy="Parallel"), pods, "rev1", "rev1", NOW).delete) == [
        "web-4", "web-3", "web-2"]


def test_ordered_scale_down_waits_while_a_kept_pod_is_unhealthy() -> None:
    pods = [pod(0, ready=False), pod(1), pod(2)]
    assert plan_statefulset(sts(1), pods, "rev1", "rev1", NOW).delete == []


def test_failed_pod_is_deleted_to_be_replaced_under_the_same_name() -> None:
    plan = plan_statefulset(sts(), [pod(0), pod(1, phase="Failed", ready=False)], "rev1", "rev1", NOW)
    assert names(plan.delete) == ["web-1"] and plan.create == []
    assert plan_statefulset(sts(), [pod(0)], "rev1", "rev1", NOW).create == [(1, "rev1")]


def test_rolling_update_replaces_highest_ordinal_first_and_waits_for_health() -> None:
    old = [pod(i, revision="rev1") for i in range(3)]
    assert names(plan_statefulset(sts(), old, "rev1", "rev2", NOW).delete) == ["web-2"]
    replaced = [*old[:2], pod(2, revision="rev2", ready=False)]
    assert plan_statefulset(sts(), replaced, "rev1", "rev2", NOW).delete == []
    ready = [*old[:2], pod(2, revision="rev2")]
    assert names(plan_statefulset(sts(), ready, "rev1", "rev2", NOW).delete) == ["web-1"]


def test_partition_keeps_lower_ordinals_at_the_current_revision() -> None:
    pods = [pod(0, revision="rev1"), pod(1, revision="rev1"), pod(2, revision="rev2")]
    plan = plan_statefulset(sts(partition=2), pods, "rev1", "rev2", NOW)
    assert plan.delete == [] and plan.create == []
    assert plan.status["currentRevision"] == "rev1" and plan.status["updatedReplicas"] == 1
    healed = plan_statefulset(sts(partition=2), [pods[0], pods[2]], "rev1", "rev2", NOW)
    assert healed.create == [(1, "rev1")]  # below the partition: recreated at the current revision
    assert plan_statefulset(sts(partition=2), pods[:2], "rev1", "rev2", NOW).create == [(2, "rev2")]


def test_on_delete_never_deletes_for_an_update_but_recreates_at_the_update_revision() -> None:
    pods = [pod(i, revision="rev1") for i in range(3)]
    assert plan_statefulset(sts(strategy="OnDelete"), pods, "rev1", "rev2", NOW).delete == []
    plan = plan_statefulset(sts(strategy="OnDelete"), pods[1:], "rev1", "rev2", NOW)
    assert plan.create == [(0, "rev2")]


def test_rollout_completes_when_every_pod_is_updated_and_ready() -> None:
    pods = [pod(i, revision="rev2") for i in range(3)]
    status = plan_statefulset(sts(), pods, "rev1", "rev2", NOW).status
    assert status["currentRevision"] == "rev2" and status["currentReplicas"] == 3
    assert status["readyReplicas"] == 3 and status["replicas"] == 3 and status["observedGeneration"] == 2


def test_status_counts_revisions_of_live_pods_only() -> None:
    pods = [pod(0, revision="rev1"), pod(1, revision="rev2", ready=False), pod(2, revision="rev2", terminating=True)]
    status = plan_statefulset(sts(), pods, "rev1", "rev2", NOW).status
    assert (status["replicas"], status["readyReplicas"], status["currentReplicas"], status["updatedReplicas"]) == (
        3, 2, 1, 1)


def test_deleting_set_plans_nothing() -> None:
    s = sts()
    s["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    plan = plan_statefulset(s, [], "rev1", "rev1", NOW)
    assert plan.create == [] and plan.delete == []


def test_pod_identity_claims_and_volumes() -> None:
    body = new_pod(sts(), TEMPLATE, "web-abc", 2)
    assert body["metadata"]["name"] == "web-2" and body["spec"]["hostname"] == "web-2"
    assert body["spec"]["subdomain"] == "nginx"
    labels = body["metadata"]["labels"]
    assert labels["controller-revision-hash"] == "web-abc" and labels["statefulset.kubernetes.io/pod-name"] == "web-2"
    assert labels["apps.kubernetes.io/pod-index"] == "2"
    assert body["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}}]
    assert body["metadata"]["ownerReferences"][0]["uid"] == "u1"
    claims = new_claims(sts(), 2)
    assert [c["metadata"]["name"] for c in claims] == ["www-web-2"] == [claim_name("www", sts(), 2)]
    assert claims[0]["metadata"]["labels"] == {"app": "web"} and "ownerReferences" not in claims[0]["metadata"]


def test_ordinal_parsing_ignores_other_names() -> None:
    s = sts()
    assert ordinal_of(s, {"metadata": {"name": "web-12"}}) == 12
    for other in ("web-", "web-01", "web-x", "webby-1", "web-1-2"):
        assert ordinal_of(s, {"metadata": {"name": other}}) is None


def test_scale_down_with_when_scaled_delete_hands_the_claim_to_the_pod() -> None:
    plan = plan_statefulset(sts(1, when_scaled="Delete"), [pod(0), pod(1)], "rev1", "rev1", NOW)
    assert [(claim, p["metadata"]["name"]) for claim, p in plan.claims_to_pods] == [("www-web-1", "web-1")]
    assert plan_statefulset(sts(1), [pod(0), pod(1)], "rev1", "rev1", NOW).claims_to_pods == []


def test_revision_restores_its_template_and_old_unused_revisions_are_truncated() -> None:
    s = sts()
    s["spec"]["revisionHistoryLimit"] = 1
    revision = new_revision(s, 1)
    assert revision["metadata"]["name"].startswith("web-") and revision["revision"] == 1
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"
    assert template_of_revision(revision) == TEMPLATE and same_template(revision, s)
    olds = [{"metadata": {"name": f"web-r{i}"}, "revision": i} for i in range(1, 5)]
    dropped = to_truncate(s, olds, [pod(0, revision="web-r2")], {"web-r4"})
    assert [r["metadata"]["name"] for r in dropped] == ["web-r1"]


def test_adoption_takes_orphans_with_the_sets_names_and_releases_pods_that_stopped_matching() -> None:
    s = sts()
    orphan, stranger, other_name = pod(0), pod(1), pod(2)
    stranger["metadata"]["labels"] = {"app": "db"}
    other_name["metadata"]["name"] = "cache-0"
    owned = pod(3)
    owned["metadata"]["ownerReferences"] = [{"uid": "u1", "controller": True, "kind": "StatefulSet", "name": "web"}]
    owned["metadata"]["labels"] = {"app": "moved"}
    adopt, release = adoption(s, [orphan, stranger, other_name, owned])
    assert names(adopt) == ["web-0"] and names(release) == ["web-3"]
    s["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert adoption(s, [orphan])[0] == []
