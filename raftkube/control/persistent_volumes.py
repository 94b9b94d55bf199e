"""The PersistentVolume controller: binds claims to volumes, keeps both phases, reclaims released volumes.

Claims: a claim with no class gets the default StorageClass (as Kubernetes' retroactive default);
then `volume_binder.claim_step` decides. Binding writes the volume first (claimRef, then status
Bound) and the claim after (volumeName and annotations, then status Bound with the volume's
capacity and access modes), as Kubernetes does, so a crash in between is finished by the next pass.
Volumes: `volume_step`; a volume whose claim is gone (confirmed by a GET, not only by the
cache) becomes Released, then Retain keeps it, Delete removes it: volumes of the local-path
provisioner are removed by the agent of their node (which deletes the directory first,
node/local_volumes.py); any other kind with Delete fails (there is no deleter for it here).
"""

from __future__ import annotations

from typing import Any

from ..api.kinds.storage import is_default_class
from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from .runtime import Controller, SharedInformers, on_change, split_key
from .volume_binder import (
    BIND_COMPLETED,
    BOUND_BY_CONTROLLER,
    PROVISIONED_BY,
    Step,
    annotations,
    claim_step,
    meta,
    volume_step,
)

Obj = dict[str, Any]
PVC, PV, SC = ("v1", "PersistentVolumeClaim"), ("v1", "PersistentVolume"), ("storage.k8s.io/v1", "StorageClass")
LOCAL_PATH_PROVISIONERS = ("rancher.io/local-path", "raftkube.io/local-path")


def claim_ref(claim: Obj) -> Obj:
    m = meta(claim)
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": m["namespace"], "name": m["name"],
            "uid": m["uid"], "resourceVersion": m.get("resourceVersion", "")}


class PersistentVolumeController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.claims = informers.get(*PVC)
        self.volumes = informers.get(*PV)
        self.classes = informers.get(*SC)
        self.claim_queue = Controller("persistentvolume-binder-claims", self.sync_claim, workers=2)
        self.volume_queue = Controller("persistentvolume-binder-volumes", self.sync_volume, workers=1)
        self.controllers = [self.claim_queue, self.volume_queue]
        self._last_events: dict[str, tuple[str, str]] = {}
        self.claims.add_handlers(**on_change(self._claim_changed))
        self.volumes.add_handlers(**on_change(self._volume_changed))
        self.classes.add_handlers(**on_change(lambda _sc: self._all_pending_claims()))

    def _claim_changed(self, claim: Obj | None) -> None:
        self.claim_queue.enqueue(claim)
        ref_name = ((claim or {}).get("spec") or {}).get("volumeName")
        if ref_name:
            self.volume_queue.enqueue_key(ref_name)
        for volume in self.volumes.cache.list():  # a volume bound to a claim that went away
            ref = (volume.get("spec") or {}).get("claimRef") or {}
            if ref.get("uid") and ref.get("uid") == meta(claim or {}).get("uid"):
                self.volume_queue.enqueue(volume)

    def _volume_changed(self, volume: Obj | None) -> None:
        self.volume_queue.enqueue(volume)
        self._all_pending_claims()

    def _all_pending_claims(self) -> None:
        for claim in self.claims.cache.list():
            if (claim.get("status") or {}).get("phase") != "Bound":
                self.claim_queue.enqueue(claim)

    # ------------------------------------------------------------------ claims
    async def sync_claim(self, key: str) -> float | None:
        namespace, name = split_key(key)
        claim = self.claims.cache.get_by_name(name, namespace)
        if claim is None:
            return None
        if (claim.get("spec") or {}).get("storageClassName") is None and await self._assign_default_class(claim):
            return None
        volumes = {meta(v)["name"]: v for v in self.volumes.cache.list()}
        classes = {meta(c)["name"]: c for c in self.classes.cache.list()}
        step = claim_step(claim, volumes, classes)
        if step.action in ("bind", "bound") and step.volume is not None:
            await self._bind(claim, step.volume)
        elif step.action == "lost":
            await self._claim_status(claim, {"phase": "Lost"})
            self._event_once(claim, "Warning", step)
        elif step.action in ("wait", "pending", "provision"):
            self._event_once(claim, "Warning" if step.reason in ("ProvisioningFailed",) else "Normal", step)
            if step.action == "pending":
                return 15.0  # as Kubernetes' periodic resync: a volume may fit later
        return None

    async def _assign_default_class(self, claim: Obj) -> bool:
        defaults = sorted((c for c in self.classes.cache.list() if is_default_class(c)),
                          key=lambda c: (meta(c).get("creationTimestamp", ""), meta(c)["name"]), reverse=True)
        if not defaults:
            return False
        patch = {"metadata": {"resourceVersion": meta(claim)["resourceVersion"]},
                 "spec": {"storageClassName": meta(defaults[0])["name"]}}
        try:
            await self.client.patch(PVC, meta(claim)["name"], patch, meta(claim)["namespace"])
        except (Conflict, NotFound):
            pass
        return True

    async def _bind(self, claim: Obj, volume: Obj) -> None:
        vmeta, cmeta = meta(volume), meta(claim)
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != cmeta["uid"]:
            notes = {**(vmeta.get("annotations") or {})}
            if not ref:
                notes[BOUND_BY_CONTROLLER] = "yes"
            body = {**volume, "metadata": {**vmeta, "annotations": notes},
                    "spec": {**volume["spec"], "claimRef": claim_ref(claim)}}
            volume = await self.client.update(PV, body)
        if (volume.get("status") or {}).get("phase") != "Bound":
            volume = await self.client.update_status(PV, {**volume, "status": {**(volume.get("status") or {}),
                                                                               "phase": "Bound"}})
        cspec = claim.get("spec") or {}
        notes = {**(cmeta.get("annotations") or {})}
        if cspec.get("volumeName") != meta(volume)["name"] or notes.get(BIND_COMPLETED) != "yes":
            notes[BIND_COMPLETED] = "yes"
            if not cspec.get("volumeName"):
                notes[BOUND_BY_CONTROLLER] = "yes"
            body = {**claim, "metadata": {**cmeta, "annotations": notes},
                    "spec": {**cspec, "volumeName": meta(volume)["name"]}}
            claim = await self.client.update(PVC, body)
        vspec = volume.get("spec") or {}
        status = {"phase": "Bound", "accessModes": list(vspec.get("accessModes") or []),
                  "capacity": dict(vspec.get("capacity") or {})}
        await self._claim_status(claim, status)

    async def _claim_status(self, claim: Obj, status: Obj) -> None:
        current = claim.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        try:
            await self.client.update_status(PVC, {**claim, "status": {**current, **status}})
        except (Conflict, NotFound):
            pass

    def _event_once(self, obj: Obj, kind: str, step: Step) -> None:
        """Record a claim's waiting reason when it changes, not on every pass."""
        key = meta(obj).get("uid", "")
        if self._last_events.get(key) != (step.reason, step.message):
            self._last_events[key] = (step.reason, step.message)
            self.recorder.record(obj, kind, step.reason, step.message)

    # ------------------------------------------------------------------ volumes
    async def sync_volume(self, key: str) -> float | None:
        volume = self.volumes.cache.get_by_name(key)
        if volume is None:
            return None
        claims = {(meta(c).get("namespace", ""), meta(c)["name"]): c for c in self.claims.cache.list()}
        step = volume_step(volume, claims)
        if step.action == "phase" and step.phase == "Released" and not await self._claim_gone(volume):
            return 1.0  # the cache is behind: the claim is still there
        if step.action == "phase":
            await self._volume_status(volume, {"phase": step.phase})
        elif step.action == "delete":
            if annotations(volume).get(PROVISIONED_BY) in LOCAL_PATH_PROVISIONERS:
                return None  # the agent of the volume's node deletes its directory, then the volume
            await self._volume_status(volume, {"phase": "Failed", "reason": "VolumeFailedDelete",
                                               "message": "no deleter for this kind of volume"})
            self.recorder.record(volume, "Warning", "VolumeFailedDelete", "no deleter for this kind of volume")
        elif step.action == "fail":
            await self._volume_status(volume, {"phase": "Failed", "message": step.message})
            self.recorder.record(volume, "Warning", step.reason, step.message)
        return None

    async def _claim_gone(self, volume: Obj) -> bool:
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        try:
            claim = await self.client.get(PVC, ref.get("name", ""), ref.get("namespace"))
        except NotFound:
            return True
        return meta(claim).get("uid") != ref.get("uid")

    async def _volume_status(self, volume: Obj, status: Obj) -> None:
        current = volume.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        try:
            await self.client.update_status(PV, {**volume, "status": {**current, **status}})
        except (Conflict, NotFound):
            pass
