"""ReplicationControllers on a 3-replica control plane with its controllers: kubectl apply, get (columns,
wide), scale, a deleted pod replaced, garbage collection on delete, validation; and the official client's
`utils.create_from_yaml` on a multi-kind file (Service + ReplicationController + Deployment)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, utils

from .cluster import E2ECluster, Kubectl, namespace_for, parse_table, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]
TEMPLATE = {"metadata": {"labels": {"app": "web-rc"}},
            "spec": {"containers": [{"name": "web", "image": "example.local/web:v1"}]}}
RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
      "spec": {"replicas": 3, "template": TEMPLATE}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("rc-plane"), controllers=True).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def ns(cluster: E2ECluster, request: pytest.FixtureRequest) -> str:
    name = namespace_for(request.node.name)
    cluster.create_namespace(name)
    return name


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def owned_pods(k: Kubectl, kind: str = "ReplicationController") -> list[dict[str, Any]]:
    pods = k.json("get", "pods", "-o", "json")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        r.get("kind") == kind and r.get("controller") for r in p["metadata"].get("ownerReferences") or [])]


def pods_count(k: Kubectl, n: int) -> list[dict[str, Any]] | None:
    pods = owned_pods(k)
    return pods if len(pods) == n else None


def test_rc_apply_get_scale_heal_and_gc(k: Kubectl, ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "rc.yaml"
    manifest.write_text(yaml.safe_dump(RC))
    assert "replicationcontroller/web created" in k("apply", "-f", str(manifest))
    stored = k.json("get", "rc", "web", "-o", "json")
    assert stored["spec"]["selector"] == {"app": "web-rc"}  # defaulted from the template's labels
    assert stored["metadata"]["labels"] == {"app": "web-rc"}
    pods = wait_until(lambda: pods_count(k, 3), 30, "3 pods of the RC")
    assert all(p["metadata"]["labels"]["app"] == "web-rc" for p in pods)

    def counted() -> dict[str, str] | None:
        rows = parse_table(k("get", "rc"))
        return rows[0] if rows and rows[0]["CURRENT"] == "3" else None
    row = wait_until(counted, 30, "status.replicas 3 in kubectl get rc")
    assert (row["NAME"], row["DESIRED"], row["READY"]) == ("web", "3", "0") and "AGE" in row
    wide = parse_table(k("get", "rc", "-o", "wide"))[0]
    assert (wide["CONTAINERS"], wide["IMAGES"], wide["SELECTOR"]) == ("web", "example.local/web:v1", "app=web-rc")
    assert "replicationcontroller/web" in k("get", "all")

    assert "replicationcontroller/web scaled" in k("scale", "rc", "web", "--replicas=5")
    wait_until(lambda: pods_count(k, 5), 30, "5 pods after scaling up")
    scale = json.loads(k("get", "--raw", f"/api/v1/namespaces/{ns}/replicationcontrollers/web/scale"))
    assert (scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]) == ("Scale", 5, "app=web-rc")
    k("scale", "rc/web", "--replicas=2")
    before = wait_until(lambda: pods_count(k, 2), 30, "2 pods after scaling down")
    victim = before[0]["metadata"]["name"]
    k("delete", "pod", victim, "--wait=false")
    healed = wait_until(lambda: (p := pods_count(k, 2)) and victim not in {x["metadata"]["name"] for x in p}
                        and p, 30, "the deleted pod replaced")
    assert len(healed) == 2

    k("delete", "rc", "web")
    wait_until(lambda: pods_count(k, 0) is not None or None, 40, "the RC's pods garbage-collected")
    assert k.fail("get", "rc", "web").returncode != 0


def test_rc_validation(k: Kubectl, tmp_path: Path) -> None:
    bad = {**RC, "spec": {**RC["spec"], "selector": {"app": "other"}}}
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(bad))
    failed = k.fail("apply", "-f", str(manifest))
    assert "spec.template.metadata.labels" in failed.stderr and "`selector` does not match template `labels`" \
        in failed.stderr


def test_official_client_create_from_yaml_multi_kind(cluster: E2ECluster, ns: str, tmp_path: Path) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web-rc"}, "ports": [{"port": 80}]}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "front"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "front"}},
                           "template": {**TEMPLATE, "metadata": {"labels": {"app": "front"}}}}}
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump_all([service, RC, deployment]))
    config = client.Configuration(host=cluster.api_url(0))
    config.ssl_ca_cert = str(cluster.ca_cert)
    config.api_key = {"authorization": cluster.token}
    config.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(config) as api:
        created = utils.create_from_yaml(api, str(path), namespace=ns)
        kinds = sorted(obj.kind for group in created for obj in group)
        assert kinds == ["Deployment", "ReplicationController", "Service"]
        core = client.CoreV1Api(api)
        rc = core.read_namespaced_replication_controller("web", ns)
        assert rc.spec.selector == {"app": "web-rc"} and rc.spec.replicas == 3
        assert [r.metadata.name for r in core.list_namespaced_replication_controller(ns).items] == ["web"]
        wait_until(lambda: core.read_namespaced_replication_controller("web", ns).status.replicas == 3 or None,
                   30, "RC status replicas 3 through the official client")
