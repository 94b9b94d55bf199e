"""Quota arithmetic (raftkube/machinery/quota.py) and the admission decisions built on it: pod usage
(containers summed, init containers' maximum, overhead, terminal pods free), formats kept as Go's
Quantity.Add keeps them, Kubernetes' exact refusal messages, LimitRange defaults and ranges."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raftkube.api.admission_chain import AdmissionRequest
from raftkube.api.errors import APIError
from raftkube.api.limit_ranger import apply_defaults, pvc_violations, violations
from raftkube.api.quota_admission import ResourceQuotaAdmission
from raftkube.api.resources import find
from raftkube.control.resourcequota import compute_used, resource_for
from raftkube.machinery import quota as q

Obj = dict[str, Any]
PODS = find("", "v1", "pods")
SERVICES = find("", "v1", "services")


def pod(*containers: Obj, init: tuple[Obj, ...] = (), phase: str = "Pending", name: str = "p") -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": list(containers), "initContainers": list(init)}, "status": {"phase": phase}}


def box(name: str, requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "i", "resources": resources}


def quota(hard: Obj, used: Obj | None = None, name: str = "q") -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": "5", "uid": f"uid-{name}"},
            "spec": {"hard": hard}, "status": {"hard": hard, "used": used if used is not None else
                                                {k: "0" for k in hard}}}


def check(obj: Obj, quotas: list[Obj], resource: Any = PODS) -> list[Obj]:
    request = AdmissionRequest("CREATE", resource, "", "ns", obj["metadata"]["name"], obj, None, None)
    delta = q.remove_zeros(q.usage(resource.kind, resource.plural, resource.group, obj))
    return ResourceQuotaAdmission.check(ResourceQuotaAdmission.__new__(ResourceQuotaAdmission), request, delta,
                                        quotas)


def test_pod_usage_sums_containers_takes_the_largest_init_and_skips_terminal_pods() -> None:
    p = pod(box("a", {"cpu": "100m", "memory": "64Mi"}, {"cpu": "200m"}), box("b", {"cpu": "250m"}),
            init=(box("setup", {"cpu": "1", "memory": "16Mi"}),))
    used = q.to_json(q.pod_usage(p))
    assert used == {"count/pods": "1", "cpu": "1", "limits.cpu": "200m", "memory": "64Mi", "pods": "1",
                    "requests.cpu": "1", "requests.memory": "64Mi"}
    assert q.pod_usage(pod(box("a", {"cpu": "1"}), phase="Succeeded")) == {}


def test_formats_follow_go_quantity_add() -> None:
    total = q.add(q.parse_list({"memory": "0"}), q.parse_list({"memory": "128Mi"}))
    total = q.add(total, q.parse_list({"memory": "128Mi"}))
    assert q.to_json(total) == {"memory": "256Mi"}
    assert q.to_json(q.add(q.parse_list({"cpu": "500m"}), q.parse_list({"cpu": "1"}))) == {"cpu": "1500m"}


@given(st.lists(st.integers(0, 4000), max_size=8))
def test_used_is_the_sum_of_the_pods(millis: list[int]) -> None:
    pods = [pod(box("c", {"cpu": f"{m}m"}), name=f"p{i}") for i, m in enumerate(millis)]
    hard = q.parse_list({"requests.cpu": "100", "pods": "50"})
    used = compute_used(hard, {PODS: pods})
    assert used["requests.cpu"][0] == Decimal(sum(millis)) / 1000
    assert used["pods"][0] == len(pods)


def test_exceeded_message_is_kubernetes() -> None:
    with pytest.raises(APIError) as err:
        check(pod(box("c"), name="third"), [quota({"pods": "2"}, {"pods": "2"}, name="pod-quota")])
    assert err.value.code == 403
    assert err.value.message == ('pods "third" is forbidden: exceeded quota: pod-quota, requested: pods=1, '
                                 'used: pods=2, limited: pods=2')
    writes = check(pod(box("c")), [quota({"pods": "2"}, {"pods": "1"})])
    assert writes[0]["status"]["used"] == {"pods": "2"}


def test_compute_quota_needs_every_container_to_say() -> None:
    hard = {"limits.cpu": "2", "requests.memory": "1Gi"}
    with pytest.raises(APIError) as err:
        check(pod(box("a", {"memory": "1Mi"}), box("b")), [quota(hard)])
    assert err.value.message == ('pods "p" is forbidden: failed quota: q: must specify limits.cpu for: a,b; '
                                 'requests.memory for: b')
    with pytest.raises(APIError, match=r"exceeded quota: q, requested: limits.cpu=3, used: limits.cpu=0, "
                                       r"limited: limits.cpu=2"):
        check(pod(box("a", {"memory": "1Mi"}, {"cpu": "3"})), [quota(hard)])


def test_unknown_status_and_object_counts() -> None:
    fresh = quota({"services": "1"})
    fresh["status"] = {"hard": {"services": "1"}}
    service = {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"type": "NodePort", "ports": [{}, {}]}}
    with pytest.raises(APIError, match="status unknown for quota: q, resources: services"):
        check(service, [fresh], SERVICES)
    with pytest.raises(APIError, match="requested: services.nodeports=2, used: services.nodeports=0, "
                                       "limited: services.nodeports=1"):
        check(service, [quota({"services.nodeports": "1", "count/services": "5"})], SERVICES)
    assert check(pod(box("c")), [quota({"services": "1"})]) == []  # a pod is not counted against services


def test_resources_counted_by_name() -> None:
    assert resource_for("limits.memory").plural == "pods"
    assert resource_for("count/deployments.apps").kind == "Deployment"
    assert resource_for("services.loadbalancers").plural == "services"
    assert resource_for("count/widgets.example.com") is None


def test_limit_range_defaults_and_annotation_notes() -> None:
    ranges = [{"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}}]
    p = pod(box("web"), box("side", {"cpu": "50m"}, {"cpu": "60m"}))
    notes = apply_defaults(p, ranges)
    assert p["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                                       "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert p["spec"]["containers"][1]["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    assert notes == ["cpu, memory request for container web", "cpu, memory limit for container web",
                     "memory request for container side", "memory limit for container side"]


def test_limit_range_min_max_ratio_messages() -> None:
    ranges = [{"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"},
                                    "maxLimitRequestRatio": {"cpu": "2"}}]}}]
    assert violations(pod(box("a", {"cpu": "500m", "memory": "64Mi"}, {"cpu": "1"})), ranges) == []
    assert violations(pod(box("a", {"cpu": "1", "memory": "64Mi"}, {"cpu": "2"})), ranges) == [
        "maximum cpu usage per Container is 1, but limit is 2"]
    assert violations(pod(box("a", {"cpu": "100m", "memory": "32Mi"}, {"cpu": "1"})), ranges) == [
        "minimum memory usage per Container is 64Mi, but request is 32Mi",
        "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000"]
    assert violations(pod(box("a", {"memory": "64Mi"})), ranges)[0] == (
        "maximum cpu usage per Container is 1.  No limit is specified")
    per_pod = [{"spec": {"limits": [{"type": "Pod", "max": {"memory": "100Mi"}}]}}]
    assert violations(pod(box("a", None, {"memory": "60Mi"}), box("b", None, {"memory": "60Mi"})), per_pod) == [
        "maximum memory usage per Pod is 100Mi, but limit is 120Mi"]


def test_scoped_quotas_count_only_their_pods() -> None:
    best_effort = {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}
    sized = pod(box("c", {"cpu": "1"}))
    bare = pod(box("c"))
    assert q.pod_in_scope(best_effort, bare) and not q.pod_in_scope(best_effort, sized)
    scoped = quota({"pods": "1"}, {"pods": "1"})
    scoped["spec"]["scopes"] = ["BestEffort"]
    assert check(sized, [scoped]) == []  # not in scope: not counted, not refused
    with pytest.raises(APIError, match="exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"):
        check(bare, [scoped])
    terminating = pod(box("c"))
    terminating["spec"]["activeDeadlineSeconds"] = 30
    assert q.pod_in_scope({"scopes": ["Terminating"]}, terminating)
    assert not q.pod_in_scope({"scopes": ["NotTerminating"]}, terminating)
    high = pod(box("c"))
    high["spec"]["priorityClassName"] = "high"
    selector = {"scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                                        "values": ["high"]}]}}
    assert q.pod_in_scope(selector, high) and not q.pod_in_scope(selector, bare)
    service = {"metadata": {"name": "web", "namespace": "ns"}, "spec": {}}
    assert check(service, [quota({"services": "0"}, {"services": "0"}) | {"spec": {"hard": {"services": "0"},
                                                                                    "scopes": ["BestEffort"]}}],
                 SERVICES) == []  # a scoped quota never counts Services


def test_limit_range_on_claims() -> None:
    ranges = [{"spec": {"limits": [{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                                    "max": {"storage": "2Gi"}}]}}]

    def claim(size: str | None) -> Obj:
        return {"spec": {"resources": {"requests": {"storage": size}} if size else {}}}
    assert pvc_violations(claim("1536Mi"), ranges) == []
    assert pvc_violations(claim("5Gi"), ranges) == [
        "maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"]
    assert pvc_violations(claim("500Mi"), ranges) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
    assert pvc_violations(claim(None), ranges) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified",
        "maximum storage usage per PersistentVolumeClaim is 2Gi.  No request is specified"]


def test_claim_usage_counts_storage_by_class() -> None:
    claim = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "5Gi"}}}}
    assert q.to_json(q.usage("PersistentVolumeClaim", "persistentvolumeclaims", "", claim)) == {
        "count/persistentvolumeclaims": "1", "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "fast.storageclass.storage.k8s.io/requests.storage": "5Gi", "persistentvolumeclaims": "1",
        "requests.storage": "5Gi"}
    hard = q.parse_list({"requests.storage": "10Gi", "persistentvolumeclaims": "3", "pods": "1"})
    assert q.matching("PersistentVolumeClaim", "persistentvolumeclaims", "", hard) == {
        "requests.storage", "persistentvolumeclaims"}
