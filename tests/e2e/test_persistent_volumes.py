"""PersistentVolumes, claims and StorageClasses through kubectl on a 3-replica control plane with two hollow
nodes: the default `local-path` class, a claim bound to the smallest fitting static volume, a pre-bound
volume, Retain keeping a released volume, a claim with no volume and no class left Pending with
Kubernetes' event, a pod on a missing claim left Pending with the scheduler's words, the local-path
provisioner making a volume on the pod's node (a 0700 directory there, made by that node's agent) and
that agent removing directory and volume once the claim is deleted; claims and bound volumes kept while in
use (pvc-/pv-protection); a claim's request growing only with a class that allows expansion; validation
messages."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from raftkube.local.nodes import LocalNodes

from .cluster import E2ECluster, Kubectl, wait_until
from .storage_support import cluster_with_nodes, is_ready, rows

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]
WAIT = 60.0
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[E2ECluster, LocalNodes]]:
    with cluster_with_nodes(tmp_path_factory.mktemp("pv-plane")) as pair:
        yield pair


@pytest.fixture(scope="module")
def cluster(world: tuple[E2ECluster, LocalNodes]) -> E2ECluster:
    return world[0]


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def apply(k: Kubectl, tmp_path: Path, *docs: Obj) -> str:
    path = tmp_path / f"m{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return k("apply", "-f", str(path))


def volume(name: str, size: str, path: str, cls: str = "manual", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "hostPath": {"path": path}, **spec}}


def claim(name: str, size: str, cls: str | None = "manual", **spec: Any) -> Obj:
    body: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}
    if cls is not None:
        body["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": body}


def pod(name: str, claim_name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "example.local/web:v1",
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]}}


def phase(k: Kubectl, kind: str, name: str, wanted: str) -> Obj | None:
    obj = k.json("get", kind, name, "-o", "json")
    return obj if (obj.get("status") or {}).get("phase") == wanted else None


def test_default_class_is_local_path(k: Kubectl) -> None:
    row = wait_until(lambda: rows(k, "sc").get("local-path (default)"), WAIT, "the default class, made at start")
    assert (row["PROVISIONER"], row["RECLAIMPOLICY"], row["VOLUMEBINDINGMODE"], row["ALLOWVOLUMEEXPANSION"]) == (
        "rancher.io/local-path", "Delete", "WaitForFirstConsumer", "false")


def test_static_binding_smallest_fit_prebound_and_retain(k: Kubectl, ns: str, tmp_path: Path) -> None:
    big, small = f"{ns}-big", f"{ns}-small"
    apply(k, tmp_path, volume(big, "5Gi", str(tmp_path / "big")), volume(small, "2Gi", str(tmp_path / "small")),
          volume(f"{ns}-pre", "9Gi", str(tmp_path / "pre"), claimRef={"namespace": ns, "name": "chosen"}))
    apply(k, tmp_path, claim("data", "1Gi"), claim("chosen", "1Gi"))
    bound = wait_until(lambda: phase(k, "pvc", "data", "Bound"), WAIT, "claim data bound")
    assert bound["spec"]["volumeName"] == small  # the smallest volume that fits
    row = rows(k, "pvc")["data"]
    assert (row["STATUS"], row["VOLUME"], row["CAPACITY"], row["ACCESS MODES"], row["STORAGECLASS"]) == (
        "Bound", small, "2Gi", "RWO", "manual")
    pv_row = rows(k, "pv")[small]
    assert (pv_row["CAPACITY"], pv_row["RECLAIM POLICY"], pv_row["STATUS"], pv_row["CLAIM"]) == (
        "2Gi", "Retain", "Bound", f"{ns}/data")
    chosen = wait_until(lambda: phase(k, "pvc", "chosen", "Bound"), WAIT, "pre-bound claim bound")
    assert chosen["spec"]["volumeName"] == f"{ns}-pre"  # its volume named it, though a smaller one was free
    assert rows(k, "pv")[big]["STATUS"] == "Available"

    k("delete", "pvc", "data")
    released = wait_until(lambda: phase(k, "pv", small, "Released"), WAIT, "volume released")
    assert released["spec"]["claimRef"]["name"] == "data"  # Retain: kept, with its old claim
    apply(k, tmp_path, claim("again", "1Gi"))
    again = wait_until(lambda: phase(k, "pvc", "again", "Bound"), WAIT, "a new claim bound")
    assert again["spec"]["volumeName"] == big  # not the released one
    k("delete", "pv", big, small, f"{ns}-pre", "--wait=false")
    wait_until(lambda: small not in rows(k, "pv") or None, WAIT, "the released volume deleted")
    for name in (big, f"{ns}-pre"):  # bound: kept by kubernetes.io/pv-protection
        assert rows(k, "pv")[name]["STATUS"] == "Terminating"
    k("delete", "pvc", "chosen", "again")
    wait_until(lambda: not {big, f"{ns}-pre"} & set(rows(k, "pv")) or None, WAIT, "the volumes go with their claims")


def test_claim_without_volume_or_class_stays_pending(k: Kubectl, tmp_path: Path) -> None:
    apply(k, tmp_path, claim("lonely", "1Gi", cls=""))

    def event() -> str | None:
        out = k("get", "events", "--field-selector", "involvedObject.name=lonely")
        return out if "FailedBinding" in out else None
    out = wait_until(event, WAIT, "FailedBinding event")
    assert "no persistent volumes available for this claim and no storage class is set" in out
    assert rows(k, "pvc")["lonely"]["STATUS"] == "Pending"


def test_pod_on_a_missing_claim_is_unschedulable(k: Kubectl, tmp_path: Path) -> None:
    apply(k, tmp_path, pod("waiting", "nope"))

    def condition() -> Obj | None:
        conditions = (k.json("get", "pod", "waiting", "-o", "json").get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"), None)
    cond = wait_until(condition, WAIT, "PodScheduled False")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == '0/2 nodes are available: persistentvolumeclaim "nope" not found.'
    apply(k, tmp_path, claim("nope", "1Gi", cls=None))  # the default class: the pod goes on
    scheduled = wait_until(lambda: k.json("get", "pod", "waiting", "-o", "json")["spec"].get("nodeName"), WAIT,
                           "pod scheduled once its claim exists")
    assert scheduled in ("node-1", "node-2")


def test_local_path_provisioning_and_reclaim_on_the_node(world: tuple[E2ECluster, LocalNodes], k: Kubectl,
                                                         ns: str, tmp_path: Path) -> None:
    _, nodes = world
    apply(k, tmp_path, claim("cache", "64Mi", cls=None))

    def waiting() -> str | None:
        out = k("get", "events", "--field-selector", "involvedObject.name=cache")
        return out if "WaitForFirstConsumer" in out else None
    assert "waiting for first consumer to be created before binding" in wait_until(waiting, WAIT, "WFFC event")
    assert rows(k, "pvc")["cache"]["STATUS"] == "Pending"

    apply(k, tmp_path, pod("user", "cache"))
    running = wait_until(lambda: (p := k.json("get", "pod", "user", "-o", "json")) and is_ready(p) and p, WAIT,
                         "pod Running with its volume")
    node = running["spec"]["nodeName"]
    bound = wait_until(lambda: phase(k, "pvc", "cache", "Bound"), WAIT, "claim bound")
    assert bound["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    pv = k.json("get", "pv", bound["spec"]["volumeName"], "-o", "json")
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete" and pv["spec"]["capacity"]["storage"] == "64Mi"
    directory = Path(pv["spec"]["hostPath"]["path"])
    node_dir = Path(nodes.node_dir(nodes.names.index(node) + 1)).resolve()
    assert directory.is_relative_to(node_dir) and directory.name.endswith(f"_{ns}_cache")
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700 and directory.stat().st_uid == os.getuid()
    (directory / "kept.txt").write_text("data")

    k("delete", "pvc", "cache", "--wait=false")  # in use: kept by kubernetes.io/pvc-protection
    protected = k.json("get", "pvc", "cache", "-o", "json")
    assert protected["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert rows(k, "pvc")["cache"]["STATUS"] == "Terminating" and (directory / "kept.txt").exists()
    k("delete", "pod", "user", "--grace-period=0", "--force")
    wait_until(lambda: "NotFound" in k.run("get", "pv", pv["metadata"]["name"], check=False).stderr or None, WAIT,
               "volume deleted after its directory")
    assert not directory.exists()


def test_storage_validation(k: Kubectl, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    bad_claim = claim("bad", "1Gi")
    del bad_claim["spec"]["accessModes"]
    bad_claim["spec"]["resources"] = {}
    path.write_text(yaml.safe_dump(bad_claim))
    err = k.fail("apply", "-f", str(path)).stderr
    assert "spec.accessModes: Required value: at least 1 access mode is required" in err
    assert "spec.resources[storage]: Required value" in err
    bad_volume = volume("bad-volume", "1Gi", "/tmp/x")
    del bad_volume["spec"]["hostPath"]
    bad_volume["spec"]["persistentVolumeReclaimPolicy"] = "Shred"
    path.write_text(yaml.safe_dump(bad_volume))
    err = k.fail("apply", "-f", str(path)).stderr
    assert "spec: Required value: must specify a volume type" in err
    assert 'spec.persistentVolumeReclaimPolicy: Unsupported value: "Shred"' in err
    path.write_text(yaml.safe_dump({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                    "metadata": {"name": "nothing"}}))
    assert "provisioner: Required value" in k.fail("apply", "-f", str(path)).stderr
    err = k.fail("patch", "sc", "local-path", "-p", '{"volumeBindingMode":"Immediate"}').stderr
    assert "volumeBindingMode: Invalid value" in err and "field is immutable" in err


def test_claim_expansion_needs_a_class_that_allows_it(k: Kubectl, tmp_path: Path) -> None:
    apply(k, tmp_path, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                        "metadata": {"name": "growing"}, "provisioner": "rancher.io/local-path",
                        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True})
    apply(k, tmp_path, claim("grows", "32Mi", cls="growing"), claim("fixed", "32Mi", cls=None),
          pod("grower", "grows"), pod("fixer", "fixed"))
    for name in ("grows", "fixed"):
        wait_until(lambda name=name: phase(k, "pvc", name, "Bound"), WAIT, f"claim {name} bound")
    err = k.fail("patch", "pvc", "fixed", "-p", '{"spec":{"resources":{"requests":{"storage":"64Mi"}}}}').stderr
    assert "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must " \
           "support resize" in err
    k("patch", "pvc", "grows", "-p", '{"spec":{"resources":{"requests":{"storage":"64Mi"}}}}')
    grown = wait_until(lambda: (c := k.json("get", "pvc", "grows", "-o", "json"))["status"]["capacity"][
        "storage"] == "64Mi" and c, WAIT, "claim capacity grown")
    assert k.json("get", "pv", grown["spec"]["volumeName"], "-o", "json")["spec"]["capacity"]["storage"] == "64Mi"
    err = k.fail("patch", "pvc", "grows", "-p", '{"spec":{"resources":{"requests":{"storage":"16Mi"}}}}').stderr
    assert "spec.resources.requests.storage: Forbidden: field can not be less than previous value" in err
    k("delete", "sc", "growing")
