"""The PersistentVolume controller's decisions: which volume a claim gets (pre-bound first, then the smallest
fit of class, mode, access modes, capacity, selector and selected node), what a claim waits for, and a
volume's phase and reclaim; the local-path provisioner's volume; the scheduler's volume checks; what the
protection controllers wait for."""

from __future__ import annotations

from typing import Any

from raftkube.control.local_path import volume_for
from raftkube.control.scheduler.nodeinfo import NodeInfo
from raftkube.control.scheduler.volumes import NODE_CONFLICT, UNBOUND_IMMEDIATE, check_volumes
from raftkube.control.storage_protection import releasable, uses
from raftkube.control.volume_binder import best_volume, claim_step, volume_step

Obj = dict[str, Any]
WFFC = {"metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}
IMMEDIATE = {"metadata": {"name": "fast"}, "provisioner": "example.com/fast", "volumeBindingMode": "Immediate"}


def pv(name: str, size: str, cls: str = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",), *,
       claim: Obj | None = None, labels: dict[str, str] | None = None, node: str | None = None,
       phase: str = "Available", policy: str = "Retain") -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                 "hostPath": {"path": f"/tmp/{name}"}, "persistentVolumeReclaimPolicy": policy}
    if claim is not None:
        spec["claimRef"] = claim
    if node is not None:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": {"phase": phase}}


def pvc(name: str = "data", size: str = "1Gi", cls: str | None = "manual", *, uid: str = "c1",
        volume: str = "", selector: Obj | None = None, node: str | None = None, modes: tuple[str, ...] = (
            "ReadWriteOnce",)) -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if volume:
        spec["volumeName"] = volume
    if selector is not None:
        spec["selector"] = selector
    meta: Obj = {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "7"}
    if node:
        meta["annotations"] = {"volume.kubernetes.io/selected-node": node}
    return {"metadata": meta, "spec": spec, "status": {"phase": "Pending"}}


def names(volume: Obj | None) -> str | None:
    return None if volume is None else volume["metadata"]["name"]


def test_smallest_fitting_volume_of_the_claims_class_wins() -> None:
    volumes = [pv("big", "10Gi"), pv("tiny", "500Mi"), pv("right", "2Gi"), pv("other-class", "1Gi", "gold"),
               pv("read-only", "1Gi", modes=("ReadOnlyMany",)), pv("taken", "1Gi", claim={"name": "x",
                                                                                         "namespace": "ns"})]
    assert names(best_volume(pvc(), volumes)) == "right"
    assert names(best_volume(pvc(modes=("ReadWriteOnce", "ReadOnlyMany")), volumes)) is None
    assert names(best_volume(pvc(cls="gold"), volumes)) == "other-class"
    assert names(best_volume(pvc(size="20Gi"), volumes)) is None


def test_prebound_volume_wins_over_a_smaller_free_one() -> None:
    volumes = [pv("small", "1Gi"), pv("mine", "5Gi", claim={"name": "data", "namespace": "ns"})]
    assert names(best_volume(pvc(), volumes)) == "mine"
    other_uid = [pv("small", "1Gi"), pv("mine", "5Gi", claim={"name": "data", "namespace": "ns", "uid": "old"})]
    assert names(best_volume(pvc(), other_uid)) == "small"  # pre-bound to an earlier claim of that name


def test_selector_and_selected_node_narrow_the_choice() -> None:
    volumes = [pv("a", "1Gi", labels={"tier": "fast"}), pv("b", "1Gi", labels={"tier": "slow"}, node="n2")]
    assert names(best_volume(pvc(selector={"matchLabels": {"tier": "slow"}}), volumes)) == "b"
    assert names(best_volume(pvc(selector={"matchLabels": {"tier": "slow"}}, node="n1"), volumes)) is None


def test_claim_steps_wait_pending_provision_and_lost() -> None:
    wait = claim_step(pvc(cls="local-path"), {}, {"local-path": WFFC})
    assert (wait.action, wait.reason, wait.message) == (
        "wait", "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
    provision = claim_step(pvc(cls="local-path", node="n1"), {}, {"local-path": WFFC})
    assert provision.action == "provision" and "'rancher.io/local-path'" in provision.message
    assert claim_step(pvc(cls="fast"), {}, {"fast": IMMEDIATE}).action == "provision"
    none = claim_step(pvc(cls=""), {}, {})
    assert (none.action, none.message) == (
        "pending", "no persistent volumes available for this claim and no storage class is set")
    missing = claim_step(pvc(cls="gone"), {}, {})
    assert missing.message == 'storageclass.storage.k8s.io "gone" not found'
    bound = pvc(volume="v1")
    bound["status"]["phase"] = "Bound"
    assert claim_step(bound, {}, {}).action == "lost"
    volumes = {"v1": pv("v1", "1Gi")}
    step = claim_step(pvc(), volumes, {})
    assert step.action == "bind" and names(step.volume) == "v1"
    assert claim_step(pvc(volume="v1"), volumes, {}).action == "bind"  # a claim naming its volume
    elsewhere = {"v1": pv("v1", "1Gi", claim={"name": "x", "namespace": "ns", "uid": "u9"})}
    assert claim_step(pvc(volume="v1"), elsewhere, {}).message == 'volume "v1" already bound to a different claim.'


def test_volume_phases_and_reclaim() -> None:
    ref = {"name": "data", "namespace": "ns", "uid": "c1"}
    claims = {("ns", "data"): pvc(volume="v")}
    assert volume_step(pv("v", "1Gi"), claims).phase == "Available"
    assert volume_step(pv("v", "1Gi", claim=ref), claims).phase == "Bound"
    assert volume_step(pv("v", "1Gi", claim={"name": "data", "namespace": "ns"}), {}).phase == "Available"
    assert volume_step(pv("v", "1Gi", claim=ref, phase="Bound"), {}).phase == "Released"
    assert volume_step(pv("v", "1Gi", claim=ref, phase="Released"), {}).action == "none"  # Retain
    assert volume_step(pv("v", "1Gi", claim=ref, phase="Released", policy="Delete"), {}).action == "delete"
    assert volume_step(pv("v", "1Gi", claim=ref, phase="Released", policy="Recycle"), {}).action == "fail"
    replaced = {("ns", "data"): pvc(uid="c2")}
    assert volume_step(pv("v", "1Gi", claim=ref, phase="Bound"), replaced).phase == "Released"


def test_local_path_volume_is_prebound_and_pinned_to_the_node() -> None:
    volume = volume_for(pvc(cls="local-path", node="n1"), WFFC, "n1", "/var/lib/agent/storage/")
    assert volume["metadata"]["name"] == "pvc-c1"
    assert volume["spec"]["hostPath"] == {"path": "/var/lib/agent/storage/pvc-c1_ns_data", "type": "DirectoryOrCreate"}
    assert volume["spec"]["claimRef"]["uid"] == "c1" and volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert names(best_volume(pvc(cls="local-path", node="n1"), [volume])) == "pvc-c1"
    assert names(best_volume(pvc(cls="local-path", node="n2"), [volume])) is None


def test_scheduler_volume_checks() -> None:
    pod = {"metadata": {"namespace": "ns"}, "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {
        "claimName": "data"}}]}}

    def lookup(objects: dict[str, Obj]) -> Any:
        return lambda name, _ns: objects.get(name)
    missing = check_volumes(pod, lookup({}), lookup({}), lookup({}))
    assert missing.error == 'persistentvolumeclaim "data" not found'
    assert check_volumes(pod, lookup({"data": pvc(cls="fast")}), lookup({}), lookup({"fast": IMMEDIATE})).error == (
        UNBOUND_IMMEDIATE)
    waiting = check_volumes(pod, lookup({"data": pvc(cls="local-path")}), lookup({}), lookup({"local-path": WFFC}))
    assert waiting.error == "" and [c["metadata"]["name"] for c in waiting.to_select] == ["data"]
    bound = check_volumes(pod, lookup({"data": pvc(volume="v")}), lookup({"v": pv("v", "1Gi", node="n2")}),
                          lookup({}))
    def node(name: str) -> NodeInfo:
        return NodeInfo(name, {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    assert bound.filter(node("n1")) == NODE_CONFLICT and bound.filter(node("n2")) is None


def test_a_volume_being_deleted_still_gets_released_but_is_not_reclaimed_twice() -> None:
    ref = {"name": "data", "namespace": "ns", "uid": "c1"}
    deleting = pv("v", "1Gi", claim=ref, phase="Bound", policy="Delete")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert volume_step(deleting, {}).phase == "Released"  # so pv-protection lets it go
    deleting["status"]["phase"] = "Released"
    assert volume_step(deleting, {}).action == "none"


def test_protection_waits_for_pods_that_have_not_finished() -> None:
    claim_pod = {"spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
                 "status": {"phase": "Running"}}
    assert uses(claim_pod, "data") and not uses(claim_pod, "other")
    assert not uses({**claim_pod, "status": {"phase": "Succeeded"}}, "data")
    meta = {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["kubernetes.io/pvc-protection"]}
    assert releasable({"metadata": meta}, "kubernetes.io/pvc-protection")
    assert not releasable({"metadata": {"finalizers": meta["finalizers"]}}, "kubernetes.io/pvc-protection")
