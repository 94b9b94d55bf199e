"""StatefulSets through kubectl on a 3-replica control plane with two hollow nodes: a course-style
manifest (headless Service + StatefulSet with volumeClaimTemplates on the default local-path class)
created in order, one claim per pod bound to a provisioned volume, kubectl's columns, scale down and up
(claims kept), a deleted pod back under its name with its claim, a rolling update held by a partition,
rollout status / history / undo, deletion with garbage collection (claims kept, or deleted on scale-down
and deletion when the retention policy says Delete), and validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .cluster import E2ECluster, Kubectl, wait_until
from .storage_support import cluster_with_nodes, is_ready, live_pods, ready_since, rows

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
MANIFEST = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
     "spec": {"clusterIP": "None", "selector": {"app": "nginx"}, "ports": [{"port": 80, "name": "web"}]}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
     "spec": {"serviceName": "nginx", "replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
              "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [
                  {"name": "nginx", "image": "example.local/web:v1", "ports": [{"containerPort": 80, "name": "web"}],
                   "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
              "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                  "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}},
]
WAIT = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    with cluster_with_nodes(tmp_path_factory.mktemp("sts-plane")) as (e2e, _nodes):
        yield e2e


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def ready_pods(k: Kubectl, n: int) -> dict[str, dict] | None:
    pods = live_pods(k, "app=nginx")
    return pods if len(pods) == n and all(is_ready(p) for p in pods.values()) else None


def sts_ready(k: Kubectl, ready: str) -> dict[str, str] | None:
    row = rows(k, "sts").get("web")
    return row if row is not None and row["READY"] == ready else None


def claims(k: Kubectl) -> dict[str, dict]:
    return {c["metadata"]["name"]: c for c in k.json("get", "pvc", "-o", "json")["items"]}


def test_statefulset_lifecycle(k: Kubectl, ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(yaml.safe_dump_all(MANIFEST))
    out = k("apply", "-f", str(manifest))
    assert "service/nginx created" in out and "statefulset.apps/web created" in out

    pods = wait_until(lambda: ready_pods(k, 3), WAIT, "web-0..2 Running and Ready")
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    for earlier, later in (("web-0", "web-1"), ("web-1", "web-2")):  # OrderedReady: each waits for the last
        assert pods[later]["metadata"]["creationTimestamp"] >= ready_since(pods[earlier])
    for name, pod in pods.items():
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (name, "nginx")
        assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "www")
        assert volume["persistentVolumeClaim"]["claimName"] == f"www-{name}"
    row = wait_until(lambda: sts_ready(k, "3/3"), WAIT, "kubectl get sts: 3/3")
    assert set(row) == {"NAME", "READY", "AGE"}
    wide = rows(k, "sts", "-o", "wide")["web"]
    assert (wide["CONTAINERS"], wide["IMAGES"]) == ("nginx", "example.local/web:v1")
    assert "statefulset.apps/web" in k("get", "all")

    bound = claims(k)
    assert sorted(bound) == ["www-web-0", "www-web-1", "www-web-2"]
    assert all(c["status"]["phase"] == "Bound" and c["spec"]["storageClassName"] == "local-path"
               for c in bound.values())
    pvc_row = rows(k, "pvc")["www-web-0"]
    assert (pvc_row["STATUS"], pvc_row["CAPACITY"], pvc_row["ACCESS MODES"], pvc_row["STORAGECLASS"]) == (
        "Bound", "1Gi", "RWO", "local-path")
    pv_row = rows(k, "pv")[pvc_row["VOLUME"]]
    assert (pv_row["CLAIM"], pv_row["STATUS"], pv_row["RECLAIM POLICY"]) == (f"{ns}/www-web-0", "Bound", "Delete")
    pod_node = pods["web-0"]["spec"]["nodeName"]
    pv = k.json("get", "pv", pvc_row["VOLUME"], "-o", "json")
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
        pod_node]

    # scale down: highest ordinal first, claims kept
    assert "statefulset.apps/web scaled" in k("scale", "sts", "web", "--replicas=1")
    wait_until(lambda: ready_pods(k, 1), WAIT, "only web-0 left")
    events = k("get", "events", "--field-selector", "involvedObject.name=web", "--sort-by=.metadata.creationTimestamp")
    assert events.index("delete Pod web-2 in StatefulSet web successful") < events.index(
        "delete Pod web-1 in StatefulSet web successful")
    assert sorted(claims(k)) == sorted(bound)
    k("scale", "sts/web", "--replicas=3")
    pods = wait_until(lambda: ready_pods(k, 3), WAIT, "web-1 and web-2 back")
    assert {n: c["metadata"]["uid"] for n, c in claims(k).items()} == {
        n: c["metadata"]["uid"] for n, c in bound.items()}  # the same claims, not new ones

    # heal: a deleted pod comes back under its name, with its claim
    old_uid = pods["web-1"]["metadata"]["uid"]
    k("delete", "pod", "web-1", "--wait=false")
    healed = wait_until(lambda: (p := ready_pods(k, 3)) and p["web-1"]["metadata"]["uid"] != old_uid and p,
                        WAIT, "web-1 recreated")
    www = next(v for v in healed["web-1"]["spec"]["volumes"] if v["name"] == "www")
    assert www["persistentVolumeClaim"]["claimName"] == "www-web-1"

    # rolling update held at partition 2: only web-2 moves to v2
    k("patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}')
    k("set", "image", "sts/web", "nginx=example.local/web:v2")
    status = k("rollout", "status", "sts/web", "--timeout=60s")
    assert "partitioned roll out complete: 1 new pods have been updated..." in status

    def images() -> dict[str, str]:
        return {n: p["spec"]["containers"][0]["image"] for n, p in (ready_pods(k, 3) or {}).items()}
    assert images() == {"web-0": "example.local/web:v1", "web-1": "example.local/web:v1",
                        "web-2": "example.local/web:v2"}
    k("patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    assert "partitioned roll out complete: 3 new pods have been updated..." in k(
        "rollout", "status", "sts/web", "--timeout=90s")
    wait_until(lambda: set(images().values()) == {"example.local/web:v2"} or None, WAIT, "every pod at v2")
    sts = k.json("get", "sts", "web", "-o", "json")
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    assert (sts["status"]["replicas"], sts["status"]["readyReplicas"], sts["status"]["updatedReplicas"]) == (3, 3, 3)

    history = k("rollout", "history", "sts/web")
    assert "REVISION" in history and [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
        "1", "2"]
    revisions = rows(k, "controllerrevisions")
    assert len(revisions) == 2 and all(r["CONTROLLER"] == "statefulset.apps/web" for r in revisions.values())
    assert "statefulset.apps/web rolled back" in k("rollout", "undo", "sts/web")
    wait_until(lambda: set(images().values()) == {"example.local/web:v1"} or None, 90, "every pod back at v1")
    assert k.json("get", "sts", "web", "-o", "json")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "example.local/web:v1")

    # delete: the pods are collected, the claims stay (whenDeleted: Retain)
    k("delete", "sts", "web")
    wait_until(lambda: not live_pods(k, "app=nginx") or None, WAIT, "pods garbage-collected")
    assert sorted(claims(k)) == sorted(bound)


def test_statefulset_validation(k: Kubectl, tmp_path: Path) -> None:
    bad = yaml.safe_load(yaml.safe_dump(MANIFEST[1]))
    del bad["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]
    bad["spec"]["podManagementPolicy"] = "Sometimes"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    failed = k.fail("apply", "-f", str(path))
    assert failed.returncode != 0
    assert "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value" in failed.stderr
    assert 'spec.podManagementPolicy: Unsupported value: "Sometimes"' in failed.stderr
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(MANIFEST[1]))
    k("apply", "-f", str(good))
    failed = k.fail("patch", "sts", "web", "-p", '{"spec":{"serviceName":"other"}}')
    assert "updates to statefulset spec for fields other than" in failed.stderr
    text = k("explain", "statefulset.spec.volumeClaimTemplates")
    assert "KIND:       StatefulSet" in text and "FIELD: volumeClaimTemplates <[]PersistentVolumeClaim>" in text


def test_claims_deleted_on_scale_down_and_deletion_when_asked(k: Kubectl, tmp_path: Path) -> None:
    db = yaml.safe_load(yaml.safe_dump(MANIFEST[1]))
    db["metadata"]["name"] = "db"
    db["spec"]["replicas"] = 2
    db["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenScaled": "Delete", "whenDeleted": "Delete"}
    path = tmp_path / "db.yaml"
    path.write_text(yaml.safe_dump(db))
    k("apply", "-f", str(path))
    wait_until(lambda: rows(k, "sts").get("db", {}).get("READY") == "2/2" or None, WAIT, "db 2/2")
    assert sorted(claims(k)) == ["www-db-0", "www-db-1"]
    k("scale", "sts", "db", "--replicas=1")
    wait_until(lambda: sorted(claims(k)) == ["www-db-0"] or None, WAIT, "the scaled-away pod's claim deleted")
    k("delete", "sts", "db")
    wait_until(lambda: not claims(k) or None, WAIT, "the remaining claim deleted with the set")
