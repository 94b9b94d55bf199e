"""The PVC and PV protection controllers (Kubernetes' pvc-protection and pv-protection): a claim being
deleted keeps its `kubernetes.io/pvc-protection` finalizer while a pod that has not finished uses it;
a volume being deleted keeps `kubernetes.io/pv-protection` while it is Bound. Then the finalizer is
removed (a patch conditional on the object's version) and the server deletes the object."""

from __future__ import annotations

from typing import Any

from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from .runtime import Controller, SharedInformers, on_change, split_key

Obj = dict[str, Any]
PVC, PV, POD = ("v1", "PersistentVolumeClaim"), ("v1", "PersistentVolume"), ("v1", "Pod")
PVC_PROTECTION, PV_PROTECTION = "kubernetes.io/pvc-protection", "kubernetes.io/pv-protection"


def claims_of(pod: Obj | None) -> list[str]:
    return [v["persistentVolumeClaim"].get("claimName", "") for v in ((pod or {}).get("spec") or {}).get("volumes")
            or [] if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)]


def uses(pod: Obj, claim: str) -> bool:
    """A pod that has not finished and names the claim."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and claim in claims_of(pod)


def releasable(obj: Obj, finalizer: str) -> bool:
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or [])


class StorageProtectionController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client = client
        self.claims = informers.get(*PVC)
        self.volumes = informers.get(*PV)
        self.pods = informers.get(*POD)
        self.claim_queue = Controller("pvc-protection", self.sync_claim, workers=1)
        self.volume_queue = Controller("pv-protection", self.sync_volume, workers=1)
        self.controllers = [self.claim_queue, self.volume_queue]
        self.claims.add_handlers(**on_change(self.claim_queue.enqueue))
        self.volumes.add_handlers(**on_change(self.volume_queue.enqueue))
        self.pods.add_handlers(**on_change(self._pod_changed))

    def _pod_changed(self, pod: Obj | None) -> None:
        namespace = ((pod or {}).get("metadata") or {}).get("namespace", "")
        for name in claims_of(pod):
            self.claim_queue.enqueue_key(f"{namespace}/{name}")

    async def sync_claim(self, key: str) -> float | None:
        namespace, name = split_key(key)
        claim = self.claims.cache.get_by_name(name, namespace)
        if claim is None or not releasable(claim, PVC_PROTECTION):
            return None
        if any(uses(p, name) for p in self.pods.cache.by_index("namespace", namespace or "")):
            return None  # a pod event brings the claim back here
        await self._release(PVC, claim, PVC_PROTECTION)
        return None

    async def sync_volume(self, key: str) -> float | None:
        volume = self.volumes.cache.get_by_name(key)
        if volume is None or not releasable(volume, PV_PROTECTION):
            return None
        if (volume.get("status") or {}).get("phase") == "Bound":
            return None  # the volume's own update (Released) brings it back here
        await self._release(PV, volume, PV_PROTECTION)
        return None

    async def _release(self, ref: tuple[str, str], obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        patch = {"metadata": {"finalizers": [f for f in meta.get("finalizers") or [] if f != finalizer],
                              "resourceVersion": meta["resourceVersion"]}}
        try:
            await self.client.patch(ref, meta["name"], patch, meta.get("namespace"))
        except (Conflict, NotFound):
            pass  # changed meanwhile: the informer brings the new version
