"""ResourceQuota and LimitRange through kubectl on a 3-replica control plane with its controllers: the
quota controller filling status (kubectl's REQUEST/LIMIT columns), the n+1th pod refused with
Kubernetes' exact message and admitted again once a pod is gone, `must specify` for compute quotas,
object counts, concurrent creates racing for the last unit (exactly one wins), LimitRange defaults
visible in `kubectl get pod -o yaml`, and its max refused."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cluster import E2ECluster, Kubectl, parse_table, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("quota-plane"), controllers=True).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def pod(name: str, resources: dict[str, Any] | None = None) -> str:
    container: dict[str, Any] = {"name": "web", "image": "example.local/web:v1"}
    if resources is not None:
        container["resources"] = resources
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                           "spec": {"containers": [container]}})


def quota(k: Kubectl, name: str, hard: dict[str, str]) -> None:
    k("create", "-f", "-", input=yaml.safe_dump({"apiVersion": "v1", "kind": "ResourceQuota",
                                                 "metadata": {"name": name}, "spec": {"hard": hard}}))
    wait_until(lambda: set(k.json("get", "quota", name).get("status", {}).get("used") or {}) == set(hard), 30,
               f"quota {name}'s status counted")


def used(k: Kubectl, name: str) -> dict[str, str]:
    return k.json("get", "quota", name)["status"]["used"]


def test_the_extra_pod_is_refused_with_kubernetes_message(k: Kubectl) -> None:
    quota(k, "pod-quota", {"pods": "2"})
    for name in ("p1", "p2"):
        k("create", "-f", "-", input=pod(name))
    assert used(k, "pod-quota") == {"pods": "2"}  # charged by admission, before the controller recounts
    result = k.fail("create", "-f", "-", input=pod("p3"))
    assert result.stderr.strip() == ('Error from server (Forbidden): error when creating "STDIN": pods "p3" is '
                                     'forbidden: exceeded quota: pod-quota, requested: pods=1, used: pods=2, '
                                     'limited: pods=2')
    row = parse_table(k("get", "quota"))[0]
    assert (row["NAME"], row["REQUEST"], row["LIMIT"]) == ("pod-quota", "pods: 2/2", "") and "AGE" in row
    k("delete", "pod", "p1", "--wait=false")
    wait_until(lambda: used(k, "pod-quota") == {"pods": "1"}, 30, "the deleted pod's share given back")
    k("create", "-f", "-", input=pod("p3"))


def test_compute_quota_needs_limits_and_counts_them(k: Kubectl) -> None:
    quota(k, "compute", {"requests.cpu": "1", "limits.memory": "1Gi"})
    result = k.fail("create", "-f", "-", input=pod("bare"))
    assert 'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: web; ' \
           'requests.cpu for: web' in result.stderr
    k("create", "-f", "-", input=pod("sized", {"requests": {"cpu": "600m"}, "limits": {"memory": "512Mi"}}))
    assert used(k, "compute") == {"limits.memory": "512Mi", "requests.cpu": "600m"}
    result = k.fail("create", "-f", "-", input=pod("big", {"requests": {"cpu": "600m"}, "limits": {"memory": "1Mi"}}))
    assert "exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: " \
           "requests.cpu=1" in result.stderr
    row = parse_table(k("get", "quota", "compute"))[0]
    assert (row["REQUEST"], row["LIMIT"]) == ("requests.cpu: 600m/1", "limits.memory: 512Mi/1Gi")
    described = k("describe", "quota", "compute").split()
    assert described[described.index("requests.cpu"):described.index("requests.cpu") + 3] == [
        "requests.cpu", "600m", "1"]


def test_object_counts(k: Kubectl) -> None:
    assert "resourcequota/objects created" in k("create", "quota", "objects",
                                                 "--hard=services=1,services.nodeports=0,count/deployments.apps=1")
    wait_until(lambda: k.json("get", "quota", "objects").get("status", {}).get("used"), 30, "the quota counted")
    k("create", "service", "clusterip", "one", "--tcp=80:80")
    result = k.fail("create", "service", "clusterip", "two", "--tcp=80:80")
    assert "exceeded quota: objects, requested: services=1, used: services=1, limited: services=1" in result.stderr
    result = k.fail("patch", "service", "one", "-p", json.dumps({"spec": {"type": "NodePort"}}))  # an update
    assert "exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=0, limited: " \
           "services.nodeports=0" in result.stderr
    k("create", "deployment", "web", "--image=example.local/web:v1")
    result = k.fail("create", "deployment", "web2", "--image=example.local/web:v1")
    assert "requested: count/deployments.apps=1, used: count/deployments.apps=1" in result.stderr


def test_concurrent_creates_cannot_both_take_the_last_pod(k: Kubectl) -> None:
    quota(k, "one-pod", {"pods": "1"})

    def create(i: int) -> subprocess.CompletedProcess[str]:
        return k.run("create", "-f", "-", input=pod(f"racer-{i}"), check=False)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(create, range(6)))
    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1, [r.stderr for r in results]
    assert all("exceeded quota: one-pod" in r.stderr for r in results if r.returncode != 0)
    assert len(k.json("get", "pods")["items"]) == 1
    wait_until(lambda: used(k, "one-pod") == {"pods": "1"}, 30, "the controller's recount agreeing")


def test_limit_range_defaults_in_the_pod_and_max_refused(k: Kubectl) -> None:
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"},
              "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                                   "default": {"cpu": "500m", "memory": "256Mi"},
                                   "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}}
    k("create", "-f", "-", input=yaml.safe_dump(limits))
    stored = k.json("get", "limits", "defaults")
    assert stored["spec"]["limits"][0]["max"] == {"cpu": "1"}
    row = parse_table(k("get", "limitrange"))[0]
    assert row["NAME"] == "defaults" and row["CREATED AT"].endswith("Z")
    k("create", "-f", "-", input=pod("defaulted"))
    shown = yaml.safe_load(k("get", "pod", "defaulted", "-o", "yaml"))
    assert shown["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                                           "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert shown["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web")
    assert shown["status"]["qosClass"] == "Burstable"
    result = k.fail("create", "-f", "-", input=pod("greedy", {"limits": {"cpu": "2"}}))
    assert 'pods "greedy" is forbidden: maximum cpu usage per Container is 1, but limit is 2' in result.stderr
    quota(k, "compute", {"limits.cpu": "2"})  # the defaults satisfy a compute quota's `must specify`
    k("create", "-f", "-", input=pod("counted"))
    assert used(k, "compute") == {"limits.cpu": "1"}  # with the earlier pod "defaulted"
    assert json.loads(k("get", "pod", "counted", "-o", "jsonpath={.spec.containers[0].resources.limits}")) == {
        "cpu": "500m", "memory": "256Mi"}


def claim(name: str, size: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})


def test_storage_quota_and_claim_limits(k: Kubectl) -> None:
    quota(k, "storage", {"requests.storage": "3Gi", "persistentvolumeclaims": "2"})
    k("create", "-f", "-", input=claim("small", "1Gi"))
    result = k.fail("create", "-f", "-", input=claim("large", "4Gi"))
    assert 'persistentvolumeclaims "large" is forbidden: exceeded quota: storage, requested: requests.storage=4Gi, ' \
           'used: requests.storage=1Gi, limited: requests.storage=3Gi' in result.stderr
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "claims"},
              "spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "1536Mi"}}]}}
    k("create", "-f", "-", input=yaml.safe_dump(limits))
    result = k.fail("create", "-f", "-", input=claim("medium", "2Gi"))
    assert "maximum storage usage per PersistentVolumeClaim is 1536Mi, but request is 2Gi" in result.stderr
    k("create", "-f", "-", input=claim("fits", "1Gi"))
    assert used(k, "storage") == {"persistentvolumeclaims": "2", "requests.storage": "2Gi"}
    k("delete", "pvc", "small", "--timeout=90s")  # pvc-protection releases it (a bound, not a timing)
    wait_until(lambda: used(k, "storage") == {"persistentvolumeclaims": "1", "requests.storage": "1Gi"}, 30,
               "the deleted claim's share given back")
