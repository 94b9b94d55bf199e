"""The PersistentVolume controller's decisions (Kubernetes' pv_controller syncClaim/syncVolume), pure.

`best_volume`: for an unbound claim, a volume pre-bound to it (its claimRef names the claim) or else
the smallest available volume of the claim's class and volume mode with every access mode asked
for, at least the requested capacity, labels matching the claim's selector and, once the claim has
a selected node, node affinity admitting that node. `claim_step` and `volume_step` say what
to do next with a claim / a volume; the controller (control/persistent_volumes.py) does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..machinery.labels import selector_from_spec
from ..machinery.quantity import is_quantity, parse_quantity
from .scheduler.info import NodeTerm

Obj = dict[str, Any]
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
HOSTNAME_LABEL = "kubernetes.io/hostname"


@dataclass
class Step:
    action: str  # claims: bind, provision, wait, lost, pending, bound, none; volumes: phase, delete, fail
    volume: Obj | None = None
    reason: str = ""
    message: str = ""
    phase: str = ""


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def annotations(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def storage(resources: Any) -> Decimal:
    value = (resources or {}).get("storage")
    return parse_quantity(value) if is_quantity(value) else Decimal(0)


def requested(claim: Obj) -> Decimal:
    return storage(((claim.get("spec") or {}).get("resources") or {}).get("requests"))


def claim_class(claim: Obj) -> str:
    return (claim.get("spec") or {}).get("storageClassName") or ""


def volume_class(volume: Obj) -> str:
    return (volume.get("spec") or {}).get("storageClassName") or ""


def is_prebound_to(volume: Obj, claim: Obj) -> bool:
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    return (ref.get("name") == meta(claim).get("name") and ref.get("namespace") == meta(claim).get("namespace")
            and ref.get("uid") in (None, "", meta(claim).get("uid")))


def node_admits(volume: Obj, node: str) -> bool:
    terms = ((((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
             .get("nodeSelectorTerms"))
    if not terms:
        return True
    return any(NodeTerm.of(t).matches(node, {HOSTNAME_LABEL: node}) for t in terms)


def fits(volume: Obj, claim: Obj) -> bool:
    """Class, volume mode, access modes, capacity, selector and selected node (not the claimRef)."""
    vspec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if meta(volume).get("deletionTimestamp") or volume_class(volume) != claim_class(claim):
        return False
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    if storage(vspec.get("capacity")) < requested(claim):
        return False
    if cspec.get("selector") is not None and not selector_from_spec(cspec["selector"]).matches(
            meta(volume).get("labels") or {}):
        return False
    node = annotations(claim).get(SELECTED_NODE)
    return not node or node_admits(volume, node)


def best_volume(claim: Obj, volumes: list[Obj]) -> Obj | None:
    prebound = [v for v in volumes if is_prebound_to(v, claim) and fits(v, claim)]
    if prebound:
        return prebound[0]
    free = [v for v in volumes if not (v.get("spec") or {}).get("claimRef") and fits(v, claim)
            and (v.get("status") or {}).get("phase", "Available") in ("Available", "Pending")]
    return min(free, key=lambda v: (storage((v.get("spec") or {}).get("capacity")), meta(v).get("name", "")),
               default=None)


def claim_step(claim: Obj, volumes: dict[str, Obj], classes: dict[str, Obj]) -> Step:
    """What the controller does next for a claim (the volumes and classes by name)."""
    spec, status = claim.get("spec") or {}, claim.get("status") or {}
    if meta(claim).get("deletionTimestamp"):
        return Step("none")
    name = spec.get("volumeName")
    if name:
        volume = volumes.get(name)
        if volume is None:
            if status.get("phase") == "Bound" or annotations(claim).get(BIND_COMPLETED):
                return Step("lost", reason="ClaimLost",
                            message="Bound claim has lost its PersistentVolume. Data on the volume is lost!")
            return Step("pending", reason="FailedBinding", message="volume \"" + name + "\" not found")
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") == meta(claim).get("uid"):
            return Step("bound", volume)  # finish the binding (claim side) if not yet done
        if not ref or is_prebound_to(volume, claim):
            return Step("bind", volume)  # the claim names a volume: bind it, whatever its fit
        return Step("pending", reason="FailedBinding",
                    message=f'volume "{name}" already bound to a different claim.')
    volume = best_volume(claim, list(volumes.values()))
    class_name = claim_class(claim)
    storage_class = classes.get(class_name) if class_name else None
    waits = storage_class is not None and storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"
    if waits and not annotations(claim).get(SELECTED_NODE):
        return Step("wait", reason="WaitForFirstConsumer",
                    message="waiting for first consumer to be created before binding")
    if volume is not None:
        return Step("bind", volume)
    if not class_name:
        return Step("pending", reason="FailedBinding",
                    message="no persistent volumes available for this claim and no storage class is set")
    if storage_class is None:
        return Step("pending", reason="ProvisioningFailed",
                    message=f'storageclass.storage.k8s.io "{class_name}" not found')
    return Step("provision", reason="ExternalProvisioning",
                message=f"Waiting for a volume to be created either by the external provisioner "
                        f"'{storage_class.get('provisioner', '')}' or manually by the system administrator. If "
                        f"volume creation is delayed, please verify that the provisioner is running and correctly "
                        f"registered.")


def volume_step(volume: Obj, claims: dict[tuple[str, str], Obj]) -> Step:
    """What the controller does next for a volume (the claims by (namespace, name))."""
    spec = volume.get("spec") or {}
    phase = (volume.get("status") or {}).get("phase")
    if phase == "Failed":
        return Step("none")
    step = _volume_step(volume, claims, spec, phase)
    if meta(volume).get("deletionTimestamp") and step.action != "phase":
        return Step("none")  # being deleted already: only its phase is kept (Released lets it go)
    return step


def _volume_step(volume: Obj, claims: dict[tuple[str, str], Obj], spec: Obj, phase: str | None) -> Step:
    ref = spec.get("claimRef")
    if not ref:
        return Step("phase", phase="Available")
    claim = claims.get((ref.get("namespace", ""), ref.get("name", "")))
    if not ref.get("uid"):  # pre-bound by a user to a claim that may not exist yet
        return Step("phase", phase="Available")
    if claim is not None and meta(claim).get("uid") == ref.get("uid"):
        if (claim.get("spec") or {}).get("volumeName") == meta(volume).get("name"):
            return Step("phase", phase="Bound")
        return Step("phase", phase=phase or "Available")  # the claim side of the binding is on its way
    policy = spec.get("persistentVolumeReclaimPolicy", "Retain")
    if phase != "Released":
        return Step("phase", phase="Released")
    if policy == "Retain":
        return Step("none")
    if policy == "Delete":
        return Step("delete")
    return Step("fail", reason="VolumeFailedRecycle", message="Recycle is not supported; use Delete or Retain")
