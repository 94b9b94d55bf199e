"""Delete and delete-collection, with finalizers, propagation policy and graceful pod deletion.

As in Kubernetes: an object with finalizers (or deleted with propagationPolicy Foreground or
Orphan, which add the `foregroundDeletion` / `orphan` finalizer for the garbage collector)
only gets a deletionTimestamp and goes when its last finalizer is removed; a Namespace turns
Terminating and goes when its content is gone and it is finalized; a Pod bound to a node is
deleted gracefully (its node agent stops it and then deletes it with a grace period of 0).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from ..machinery.times import rfc3339
from .admission_chain import AdmissionChain, AdmissionRequest
from .auth import User
from .errors import APIError, conflict
from .objects import now_rfc3339
from .router import Target
from .selectors import FieldSelector, LabelSelector
from .storage import ObjectStorage
from .writes import MAX_ATTEMPTS, release

Obj = dict[str, Any]
DEFAULT_POD_GRACE = 30


def _later(seconds: int) -> str:
    return rfc3339(time.time() + seconds)


class Deleter:
    def __init__(self, storage: ObjectStorage, admission: AdmissionChain | None = None) -> None:
        self.storage = storage
        self.admission = admission or AdmissionChain()

    async def delete(self, target: Target, options: dict[str, Any], dry_run: bool = False,
                     user: User | None = None) -> Obj:
        resource = target.resource
        name = target.name or ""
        for _ in range(MAX_ATTEMPTS):
            live = await self.storage.get(resource, target.namespace, name)
            self._check_preconditions(target, live, options.get("preconditions") or {})
            await self.admission.run(AdmissionRequest("DELETE", resource, "", target.namespace, name, None, live,
                                                      user, dry_run))
            marked = self._mark(live, options)
            if dry_run:
                return marked or live
            try:
                if marked is None:
                    return await self.storage.delete(resource, live, int(live["metadata"]["resourceVersion"]),
                                                     release(resource, live))
                if marked == live:
                    return live
                return await self.storage.update(resource, marked, int(live["metadata"]["resourceVersion"]))
            except APIError as err:
                if err.reason != "Conflict":
                    raise
        raise conflict(resource.plural, name, resource.group, "too many concurrent writers")

    @staticmethod
    def _check_preconditions(target: Target, live: Obj, pre: dict[str, Any]) -> None:
        meta = live["metadata"]
        for field in ("uid", "resourceVersion"):
            wanted = pre.get(field)
            if wanted is not None and wanted != meta.get(field):
                raise conflict(target.resource.plural, target.name or "", target.resource.group,
                               f"Precondition failed: {field} in precondition: {wanted}, "
                               f"{field} in object meta: {meta.get(field)}")

    @staticmethod
    def _mark(live: Obj, options: dict[str, Any]) -> Obj | None:
        """The object marked for deletion, or None when it can go right away."""
        obj = copy.deepcopy(live)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        policy = options.get("propagationPolicy")
        for wanted, finalizer in (("Foreground", "foregroundDeletion"), ("Orphan", "orphan")):
            if policy == wanted and finalizer not in finalizers and not meta.get("deletionTimestamp"):
                finalizers.append(finalizer)
        grace = options.get("gracePeriodSeconds")
        if obj.get("kind") == "Namespace":
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                obj.setdefault("status", {})["phase"] = "Terminating"
            if finalizers:
                meta["finalizers"] = finalizers
            return obj
        if obj.get("kind") == "Pod" and obj.get("spec", {}).get("nodeName") and grace != 0 \
                and obj.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            if meta.get("deletionTimestamp"):
                return live
            seconds = grace if grace is not None else obj["spec"].get("terminationGracePeriodSeconds",
                                                                       DEFAULT_POD_GRACE)
            meta["deletionTimestamp"] = _later(seconds)
            meta["deletionGracePeriodSeconds"] = seconds
            if finalizers:
                meta["finalizers"] = finalizers
            return obj
        if not finalizers:
            return None
        if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or []):
            return live
        meta.setdefault("deletionTimestamp", now_rfc3339())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        meta["finalizers"] = finalizers
        return obj

    async def delete_collection(self, target: Target, labels: LabelSelector, fields: FieldSelector,
                                options: dict[str, Any], dry_run: bool = False,
                                user: User | None = None) -> list[Obj]:
        listed = await self.storage.list(target.resource, target.namespace, labels, fields)
        deleted = []
        for item in listed.items:
            one = Target(target.resource, item["metadata"].get("namespace"), item["metadata"]["name"])
            try:
                deleted.append(await self.delete(one, options, dry_run, user))
            except APIError as err:
                if err.reason != "NotFound":
                    raise
        return deleted
