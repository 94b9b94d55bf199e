"""core/v1 PersistentVolume and PersistentVolumeClaim, storage.k8s.io/v1 StorageClass: defaults,
Kubernetes' validation (ValidatePersistentVolume, ValidatePersistentVolumeClaim(Update),
ValidateStorageClass(Update)) for the fields that matter here, and kubectl's columns."""

from __future__ import annotations

from typing import Any

from ...machinery.quantity import is_quantity, parse_quantity
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .names import is_dns1123_subdomain, is_qualified_name
from .printing import age, name_of
from .selectors import validate_selector
from .workloads import AGE, NAME

Obj = dict[str, Any]
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
SHORT_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
PV_SOURCES = ("hostPath", "local", "nfs", "csi", "iscsi", "fc", "rbd", "cephfs", "glusterfs", "flexVolume")
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
UNSET = "<unset>"


def access_modes_string(modes: Any) -> str:
    """kubectl's GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order."""
    present = {m for m in fe.as_list(modes) if isinstance(m, str)}
    return ",".join(SHORT_MODES[m] for m in ACCESS_MODES if m in present)


def is_default_class(sc: Obj) -> bool:
    annotations = fe.as_dict(fe.as_dict(sc.get("metadata")).get("annotations"))
    return annotations.get(DEFAULT_CLASS) == "true" or annotations.get(BETA_DEFAULT_CLASS) == "true"


def storage_of(resources: Any) -> Any:
    return fe.as_dict(resources).get("storage")


def validate_access_modes(modes: Any, path: str) -> list[Cause]:
    if not isinstance(modes, list) or not modes:
        return [fe.required(path, "at least 1 access mode is required")]
    out: list[Cause] = []
    for mode in modes:
        fe.check_enum(out, path, mode, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        out.append(fe.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return out


def _check_class_name(out: list[Cause], path: str, name: Any) -> None:
    if isinstance(name, str) and name:
        out.extend(fe.invalid(path, name, msg) for msg in is_dns1123_subdomain(name))


def _positive_storage(out: list[Cause], path: str, value: Any) -> None:
    if not is_quantity(value):
        out.append(fe.invalid(path, value, "must be a valid quantity"))
    elif parse_quantity(value) <= 0:
        out.append(fe.invalid(path, value, "must be greater than zero"))


def validate_claim_spec(spec: Any, path: str) -> list[Cause]:
    """ValidatePersistentVolumeClaimSpec: access modes, a positive storage request, class and mode."""
    spec = fe.as_dict(spec)
    out = validate_access_modes(spec.get("accessModes"), f"{path}.accessModes")
    if spec.get("selector") is not None:
        out.extend(validate_selector(spec["selector"], f"{path}.selector"))
    requests = fe.as_dict(fe.as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        out.append(fe.required(f"{path}.resources[storage]", ""))
    else:
        _positive_storage(out, f"{path}.resources[storage]", requests["storage"])
    _check_class_name(out, f"{path}.storageClassName", spec.get("storageClassName"))
    fe.check_enum(out, f"{path}.volumeMode", spec.get("volumeMode"), VOLUME_MODES)
    return out


def default_claim(claim: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim(Spec): volumeMode Filesystem, phase Pending."""
    setdef(child(claim, "spec"), "volumeMode", "Filesystem")
    setdef(child(claim, "status"), "phase", "Pending")


class PersistentVolumeClaimStrategy(ObjectStrategy):
    kind = "PersistentVolumeClaim"

    def default(self, obj: Obj) -> None:
        default_claim(obj)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out = validate_claim_spec(spec, "spec")
        status = fe.as_dict(obj.get("status"))
        fe.check_enum(out, "status.phase", status.get("phase"), ("Pending", "Bound", "Lost"))
        if old is not None:
            out.extend(self._validate_update(spec, fe.as_dict(old.get("spec")), fe.as_dict(old.get("status"))))
        return out

    @staticmethod
    def _validate_update(spec: Obj, old_spec: Obj, old_status: Obj) -> list[Cause]:
        """ValidatePersistentVolumeClaimUpdate: the spec is fixed except the requests of a bound claim
        (growing only), volumeName while it is still empty (binding) and an unset storageClassName."""
        comparable, old_comparable = dict(spec), dict(old_spec)
        if old_spec.get("storageClassName") is None:  # a default class assigned retroactively
            comparable.pop("storageClassName", None)
            old_comparable.pop("storageClassName", None)
        if not old_spec.get("volumeName"):
            comparable.pop("volumeName", None)
            old_comparable.pop("volumeName", None)
        bound = old_status.get("phase") == "Bound"
        if bound:
            comparable.pop("resources", None)
            old_comparable.pop("resources", None)
        if comparable != old_comparable or (not bound and spec.get("resources") != old_spec.get("resources")):
            return [fe.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                         "volumeAttributesClassName for bound claims")]
        new, before = (storage_of(fe.as_dict(s.get("resources")).get("requests")) for s in (spec, old_spec))
        if bound and is_quantity(new) and is_quantity(before) and parse_quantity(new) < parse_quantity(before):
            return [fe.forbidden("spec.resources.requests.storage", "field can not be less than previous value")]
        return []

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Status", description="Phase of the claim."),
                Column("Volume", description="The binding reference to the PersistentVolume backing this claim."),
                Column("Capacity", description="The actual resources of the underlying volume."),
                Column("Access Modes", description="The actual access modes the volume backing the PVC has."),
                Column("StorageClass", description="Name of the StorageClass required by the claim."),
                Column("VolumeAttributesClass", description="The VolumeAttributesClass used by this claim."),
                AGE, Column("VolumeMode", priority=1, description="What type of volume is required by the claim.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        phase = "Terminating" if fe.as_dict(obj.get("metadata")).get("deletionTimestamp") else status.get("phase", "")
        capacity = modes = ""
        if spec.get("volumeName"):
            capacity = str(storage_of(status.get("capacity")) or "")
            modes = access_modes_string(status.get("accessModes"))
        return [name_of(obj), phase, spec.get("volumeName", ""), capacity, modes, spec.get("storageClassName", ""),
                spec.get("volumeAttributesClassName") or UNSET, age(obj, now), spec.get("volumeMode") or UNSET]


class PersistentVolumeStrategy(ObjectStrategy):
    kind = "PersistentVolume"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        setdef(spec, "persistentVolumeReclaimPolicy", "Retain")
        setdef(spec, "volumeMode", "Filesystem")
        host_path = spec.get("hostPath")
        if isinstance(host_path, dict):
            setdef(host_path, "type", "")
        setdef(child(obj, "status"), "phase", "Pending")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out = validate_access_modes(spec.get("accessModes"), "spec.accessModes")
        capacity = spec.get("capacity")
        if not isinstance(capacity, dict) or not capacity:
            out.append(fe.required("spec.capacity", ""))
        elif "storage" not in capacity or len(capacity) > 1:
            out.append(fe.not_supported("spec.capacity", capacity, ["storage"]))
        else:
            _positive_storage(out, "spec.capacity[storage]", capacity["storage"])
        fe.check_enum(out, "spec.persistentVolumeReclaimPolicy", spec.get("persistentVolumeReclaimPolicy"),
                      RECLAIM_POLICIES)
        fe.check_enum(out, "spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)
        _check_class_name(out, "spec.storageClassName", spec.get("storageClassName"))
        out.extend(self._validate_source(spec))
        status = fe.as_dict(obj.get("status"))
        fe.check_enum(out, "status.phase", status.get("phase"),
                      ("Pending", "Available", "Bound", "Released", "Failed"))
        if old is not None:
            old_spec = fe.as_dict(old.get("spec"))
            if any(spec.get(k) != old_spec.get(k) for k in PV_SOURCES):
                out.append(fe.forbidden("spec.persistentvolumesource",
                                        "spec.persistentvolumesource is immutable after creation"))
            if old_spec.get("volumeMode") != spec.get("volumeMode"):
                out.append(fe.immutable("spec.volumeMode", spec.get("volumeMode")))
            if old_spec.get("nodeAffinity") is not None and old_spec.get("nodeAffinity") != spec.get("nodeAffinity"):
                out.append(fe.immutable("spec.nodeAffinity", spec.get("nodeAffinity")))
        return out

    @staticmethod
    def _validate_source(spec: Obj) -> list[Cause]:
        present = [k for k in PV_SOURCES if spec.get(k) is not None]
        if not present:
            return [fe.required("spec", "must specify a volume type")]
        out = [fe.forbidden(f"spec.{extra}", "may not specify more than 1 volume type") for extra in present[1:]]
        for kind in ("hostPath", "local"):
            if kind in present and not fe.as_dict(spec[kind]).get("path"):
                out.append(fe.required(f"spec.{kind}.path", ""))
        if "local" in present and not spec.get("nodeAffinity"):
            out.append(fe.required("spec.nodeAffinity", "Local volume requires node affinity"))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Capacity", description="The actual resources of the volume."),
                Column("Access Modes", description="All ways the volume can be mounted."),
                Column("Reclaim Policy", description="What happens to a persistent volume when released from its "
                                                     "claim."),
                Column("Status", description="Phase of the volume."),
                Column("Claim", description="The binding reference to a PersistentVolumeClaim."),
                Column("StorageClass", description="Name of the StorageClass this volume belongs to."),
                Column("VolumeAttributesClass", description="The VolumeAttributesClass this volume belongs to."),
                Column("Reason", description="A brief CamelCase string describing any failure."),
                AGE, Column("VolumeMode", priority=1, description="The volume's mode (Filesystem or Block).")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        phase = "Terminating" if fe.as_dict(obj.get("metadata")).get("deletionTimestamp") else status.get("phase", "")
        ref = fe.as_dict(spec.get("claimRef"))
        claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if spec.get("claimRef") else ""
        return [name_of(obj), str(storage_of(spec.get("capacity")) or ""), access_modes_string(spec.get("accessModes")),
                spec.get("persistentVolumeReclaimPolicy", ""), phase, claim, spec.get("storageClassName", ""),
                spec.get("volumeAttributesClassName") or UNSET, status.get("reason", ""), age(obj, now),
                spec.get("volumeMode") or UNSET]


class StorageClassStrategy(ObjectStrategy):
    kind = "StorageClass"

    def default(self, obj: Obj) -> None:
        setdef(obj, "reclaimPolicy", "Delete")
        setdef(obj, "volumeBindingMode", "Immediate")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        provisioner = obj.get("provisioner")
        if not provisioner:
            out.append(fe.required("provisioner", ""))
        elif fe.check_str(out, "provisioner", provisioner):
            out.extend(fe.invalid("provisioner", provisioner, msg) for msg in is_qualified_name(provisioner.lower()))
        fe.check_enum(out, "reclaimPolicy", obj.get("reclaimPolicy"), ("Delete", "Retain"))
        fe.check_enum(out, "volumeBindingMode", obj.get("volumeBindingMode"), BINDING_MODES, required_=True)
        if old is not None:
            if obj.get("parameters") != old.get("parameters"):
                out.append(fe.forbidden("parameters", "updates to parameters are forbidden."))
            if provisioner != old.get("provisioner"):
                out.append(fe.forbidden("provisioner", "updates to provisioner are forbidden."))
            if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
                out.append(fe.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
            if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
                out.append(fe.immutable("volumeBindingMode", obj.get("volumeBindingMode")))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Provisioner", description="The driver that provisions this class's volumes."),
                Column("ReclaimPolicy", description="What happens to a dynamically provisioned volume when its claim "
                                                    "is released."),
                Column("VolumeBindingMode", description="When volumes are bound and provisioned."),
                Column("AllowVolumeExpansion", "boolean", description="Whether claims may be expanded."), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        name = name_of(obj) + (" (default)" if is_default_class(obj) else "")
        return [name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
                obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), age(obj, now)]
