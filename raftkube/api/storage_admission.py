"""Kubernetes' two storage admission plugins.

- StorageObjectInUseProtection: a new claim gets the `kubernetes.io/pvc-protection` finalizer and a
  new volume `kubernetes.io/pv-protection`, so neither goes while in use (a pod uses the claim, a
  claim is bound to the volume); control/storage_protection.py removes them once it is not.
- PersistentVolumeClaimResize: a claim's storage request may grow only when its StorageClass exists
  and sets `allowVolumeExpansion: true` (shrinking is refused by the claim's own validation,
  api/kinds/storage.py)."""

from __future__ import annotations

from typing import Any

from ..machinery.quantity import is_quantity, parse_quantity
from .admission_chain import AdmissionRequest
from .resources import find
from .storage import ObjectStorage

Obj = dict[str, Any]
STORAGE_CLASSES = find("storage.k8s.io", "v1", "storageclasses")
REFUSAL = ("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must "
           "support resize")


def requested(claim: Obj | None) -> Any:
    return (((claim or {}).get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")


PVC_PROTECTION, PV_PROTECTION = "kubernetes.io/pvc-protection", "kubernetes.io/pv-protection"


class StorageProtection:
    name = "StorageObjectInUseProtection"

    async def admit(self, request: AdmissionRequest) -> None:
        resource = request.resource
        if request.operation != "CREATE" or request.subresource or resource.group or request.obj is None:
            return
        finalizer = {"persistentvolumeclaims": PVC_PROTECTION, "persistentvolumes": PV_PROTECTION}.get(
            resource.plural)
        meta = request.obj.get("metadata")
        if finalizer is None or not isinstance(meta, dict):
            return
        finalizers = meta.get("finalizers") if isinstance(meta.get("finalizers"), list) else []
        if finalizer not in finalizers:
            meta["finalizers"] = [*finalizers, finalizer]

    async def validate(self, request: AdmissionRequest) -> None:
        return None


class ClaimResize:
    name = "PersistentVolumeClaimResize"

    def __init__(self, storage: ObjectStorage | None = None) -> None:
        self.storage = storage

    async def admit(self, request: AdmissionRequest) -> None:
        return None

    async def validate(self, request: AdmissionRequest) -> None:
        resource = request.resource
        if (resource.group, resource.plural, request.subresource, request.operation) != (
                "", "persistentvolumeclaims", "", "UPDATE"):
            return
        new, old = requested(request.obj), requested(request.old)
        if not (is_quantity(new) and is_quantity(old)) or parse_quantity(new) <= parse_quantity(old):
            return
        class_name = ((request.obj or {}).get("spec") or {}).get("storageClassName")
        storage_class = None
        if class_name and self.storage is not None and STORAGE_CLASSES is not None:
            storage_class = await self.storage.get_or_none(STORAGE_CLASSES, None, class_name)
        if not (storage_class or {}).get("allowVolumeExpansion"):
            raise request.forbidden(REFUSAL)
