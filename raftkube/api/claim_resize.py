"""The PersistentVolumeClaimResize admission plugin (as Kubernetes'): a claim's storage request may grow
only when its StorageClass exists and sets `allowVolumeExpansion: true` (shrinking is refused by the
claim's own validation, api/kinds/storage.py)."""

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
