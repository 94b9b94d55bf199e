"""The CRD finalizer: a deleted CustomResourceDefinition takes its custom resources with it.

As kube-apiserver's `customresourcecleanup.apiextensions.k8s.io` finalizer: once a CRD has a
deletionTimestamp, its `Terminating` condition says `InstanceDeletionInProgress`, every
instance (in every namespace) is deleted, and when none is left (instances with finalizers of
their own stay until their controllers release them) the finalizer is removed, so the server
deletes the CRD. Creates of new instances are refused meanwhile (api/writes.py).
"""

from __future__ import annotations

import logging
from typing import Any

from ..api.crd.resource import CLEANUP_FINALIZER
from ..client import ApiClient, ApiError, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.times import rfc3339
from .custom_kinds import CRD, crd_resource
from .runtime import Controller, SharedInformers, on_change

log = logging.getLogger(__name__)
Obj = dict[str, Any]
POLL = 1.0  # seconds between checks while instances with finalizers go away


def terminating_condition(crd: Obj, reason: str, message: str, now: str) -> list[Obj] | None:
    """The CRD's conditions with Terminating set to (True, reason, message); None when already so."""
    conditions = list((crd.get("status") or {}).get("conditions") or [])
    current = next((c for c in conditions if c.get("type") == "Terminating"), None)
    if current is not None and current.get("reason") == reason and current.get("message") == message:
        return None
    wanted = {"type": "Terminating", "status": "True", "lastTransitionTime": now, "reason": reason,
              "message": message}
    return [c for c in conditions if c.get("type") != "Terminating"] + [wanted]


class CRDCleanupController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.crds = informers.get(*CRD)
        self.controller = Controller("crd-cleanup", self.reconcile, workers=1)
        self.crds.add_handlers(**on_change(self.controller.enqueue))

    async def reconcile(self, key: str) -> float | None:
        crd = self.crds.cache.get_by_name(key)
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return None
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return None
        resource = crd_resource(crd)
        left = 0
        if resource is not None:
            try:
                items = (await self.client.list(resource)).get("items") or []
            except NotFound:
                items = []
            await self._set_terminating(crd, "InstanceDeletionInProgress", "CustomResource deletion is in progress")
            for item in items:
                meta = item["metadata"]
                if meta.get("deletionTimestamp"):
                    left += 1
                    continue
                try:
                    await self.client.delete(resource, meta["name"], meta.get("namespace"),
                                             preconditions={"uid": meta["uid"]})
                    left += 1
                except (NotFound, Conflict):
                    continue
        if left:
            return POLL  # deletions (and their finalizers) bring events of the CRs, not of the CRD: poll
        return await self._release(crd)

    async def _set_terminating(self, crd: Obj, reason: str, message: str) -> None:
        conditions = terminating_condition(crd, reason, message, rfc3339())
        if conditions is None:
            return
        body = {**crd, "status": {**(crd.get("status") or {}), "conditions": conditions}}
        try:
            await self.client.update_status(CRD, body)
        except (Conflict, NotFound, ApiError) as err:
            log.debug("crd cleanup: Terminating condition of %s not written: %s", crd["metadata"]["name"], err)

    async def _release(self, crd: Obj) -> float | None:
        meta = crd["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER]
        patch = {"metadata": {"finalizers": rest or None, "resourceVersion": meta["resourceVersion"]}}
        try:
            await self.client.patch(CRD, meta["name"], patch, patch_type="merge")
        except NotFound:
            return None
        except Conflict:
            return 0.2
        self.recorder.record(crd, "Normal", "InstancesDeleted",
                             f"Deleted every {meta['name']} instance; removed the {CLEANUP_FINALIZER} finalizer")
        return None
