"""The StatefulSet controller: stable pods `<set>-<ordinal>` with their own claims, made, replaced,
rolled and removed in the order `statefulset_plan` decides, and the set's ControllerRevisions.

Each pass: adopt orphans named `<set>-<ordinal>` that match the selector and release owned pods that
no longer match; find (or make) the update revision for the current template, take the current revision
from `status.currentRevision`, plan, then create the claims and pods, hand claims of
scaled-away pods to their pod (`whenScaled: Delete`: the garbage collector removes them with it),
delete pods, write the status and drop old revisions. Names are fixed, so a lagging cache cannot create twice:
the second create is AlreadyExists.
"""

from __future__ import annotations

import time
from typing import Any

from ..client import AlreadyExists, ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from .expectations import Expectations
from .podutil import owner_reference
from .runtime import Controller, OwnedPodEvents, SharedInformers, controller_of, on_change, split_key
from .statefulset_history import (
    new_revision,
    owned_revisions,
    revision_number,
    same_template,
    template_of_revision,
    to_truncate,
)
from .statefulset_plan import adoption, new_claims, new_pod, plan_statefulset

Obj = dict[str, Any]
STS = ("apps/v1", "StatefulSet")
POD = ("v1", "Pod")
REVISION = ("apps/v1", "ControllerRevision")
PVC = ("v1", "PersistentVolumeClaim")


class StatefulSetController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.sets = informers.get(*STS)
        self.pods = informers.get(*POD)
        self.revisions = informers.get(*REVISION)
        self.claims = informers.get(*PVC)
        self.controller = Controller("statefulset", self.reconcile, workers=2)
        self.sets.add_handlers(**on_change(self.controller.enqueue))
        self.pods.add_handlers(**OwnedPodEvents("StatefulSet", self.controller, Expectations(),
                                                orphan=self._orphan_seen).handlers())
        self.revisions.add_handlers(**on_change(self.controller.enqueue_owner("StatefulSet")))

    def _orphan_seen(self, pod: Obj) -> None:
        for sts in self.sets.cache.by_index("namespace", pod["metadata"].get("namespace", "")):
            self.controller.enqueue(sts)  # any set in its namespace might adopt it

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        sts = self.sets.cache.get_by_name(name, namespace)
        if sts is None:
            return None
        uid = sts["metadata"]["uid"]
        adopt, release = adoption(sts, self.pods.cache.by_index("namespace", namespace or ""))
        if adopt or release:
            for pod in adopt:
                await self._set_owners(pod, [*(pod["metadata"].get("ownerReferences") or []), owner_reference(sts)])
            for pod in release:
                await self._set_owners(pod, [r for r in pod["metadata"].get("ownerReferences") or []
                                             if r.get("uid") != uid])
            return 0.5  # decide on what the informer shows after the change
        pods = [p for p in self.pods.cache.by_index("owner", uid) if (controller_of(p) or {}).get("uid") == uid]
        revisions = owned_revisions(sts, self.revisions.cache.by_index("namespace", namespace or ""))
        update = await self._update_revision(sts, revisions)
        if update is None:
            return 1.0  # a revision was just written: wait to see it
        names = {r["metadata"]["name"] for r in revisions}
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = current_name if current_name in names else update["metadata"]["name"]
        plan = plan_statefulset(sts, pods, current, update["metadata"]["name"], time.time())
        templates = {r["metadata"]["name"]: template_of_revision(r) for r in [*revisions, update]}
        for ordinal, revision in plan.create:
            await self._create(sts, ordinal, revision, templates[revision])
        for claim, pod in plan.claims_to_pods:  # before the pod goes, so the collector takes both
            await self._give_claim_to_pod(claim, pod, uid)
        for pod in plan.delete:
            await self._delete(sts, pod)
        await self._write_status(sts, plan.status)
        for revision in to_truncate(sts, revisions, pods, {current, update["metadata"]["name"]}):
            try:
                await self.client.delete(REVISION, revision["metadata"]["name"], namespace,
                                         preconditions={"uid": revision["metadata"]["uid"]})
            except (NotFound, Conflict):
                pass
        return None

    async def _update_revision(self, sts: Obj, revisions: list[Obj]) -> Obj | None:
        """The revision of the current template, or None after creating / renumbering it."""
        latest = max((revision_number(r) for r in revisions), default=0)
        for revision in revisions:
            if not same_template(revision, sts):
                continue
            if revision_number(revision) == latest:
                return revision
            patch = {"revision": latest + 1, "metadata": {"resourceVersion": revision["metadata"]["resourceVersion"]}}
            try:  # a rollback to a template seen before: it becomes the newest revision again
                await self.client.patch(REVISION, revision["metadata"]["name"], patch, sts["metadata"]["namespace"])
            except (NotFound, Conflict):
                pass
            return None
        body = new_revision(sts, latest + 1)
        try:
            return await self.client.create(REVISION, body, sts["metadata"]["namespace"])
        except AlreadyExists:  # a hash collision, or our own earlier write not yet in the cache
            await self._bump_collisions(sts)
            return None

    async def _bump_collisions(self, sts: Obj) -> None:
        status = dict(sts.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        try:
            await self.client.update_status(STS, {**sts, "status": status}, sts["metadata"]["namespace"])
        except (Conflict, NotFound):
            pass

    async def _create(self, sts: Obj, ordinal: int, revision: str, template: Obj) -> None:
        namespace, set_name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        pod = new_pod(sts, template, revision, ordinal)
        pod_name = pod["metadata"]["name"]
        for claim in new_claims(sts, ordinal):
            if self.claims.cache.get_by_name(claim["metadata"]["name"], namespace) is not None:
                continue
            try:
                await self.client.create(PVC, claim, namespace)
                message = f"create Claim {claim['metadata']['name']} Pod {pod_name} in StatefulSet {set_name} success"
                self.recorder.record(sts, "Normal", "SuccessfulCreate", message)
            except AlreadyExists:
                pass
        try:
            await self.client.create(POD, pod, namespace)
        except AlreadyExists:
            return
        except Exception as exc:
            self.recorder.record(sts, "Warning", "FailedCreate",
                                 f"create Pod {pod_name} in StatefulSet {set_name} failed error: {exc}")
            raise
        self.recorder.record(sts, "Normal", "SuccessfulCreate",
                             f"create Pod {pod_name} in StatefulSet {set_name} successful")

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(POD, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
        except (NotFound, Conflict):
            return
        self.recorder.record(sts, "Normal", "SuccessfulDelete",
                             f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful")

    async def _give_claim_to_pod(self, claim_name: str, pod: Obj, set_uid: str) -> None:
        """The pod becomes the claim's only owner of the two (as Kubernetes' whenScaled: Delete)."""
        claim = self.claims.cache.get_by_name(claim_name, pod["metadata"]["namespace"])
        if claim is None:
            return
        refs = claim["metadata"].get("ownerReferences") or []
        if any(r.get("uid") == pod["metadata"]["uid"] for r in refs):
            return
        kept = [r for r in refs if r.get("uid") != set_uid]
        ref = {**owner_reference(pod), "controller": False}
        patch = {"metadata": {"ownerReferences": [*kept, ref], "resourceVersion": claim["metadata"]["resourceVersion"]}}
        try:
            await self.client.patch(PVC, claim_name, patch, pod["metadata"]["namespace"])
        except (NotFound, Conflict):
            pass

    async def _set_owners(self, pod: Obj, refs: list[Obj]) -> None:
        patch = {"metadata": {"ownerReferences": refs, "resourceVersion": pod["metadata"]["resourceVersion"]}}
        try:
            await self.client.patch(POD, pod["metadata"]["name"], patch, pod["metadata"]["namespace"])
        except (NotFound, Conflict):
            pass  # changed meanwhile: the next pass sees the new version

    async def _write_status(self, sts: Obj, status: Obj) -> None:
        current = sts.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        try:
            await self.client.update_status(STS, {**sts, "status": {**current, **status}}, sts["metadata"]["namespace"])
        except (Conflict, NotFound):
            pass  # a newer version is on its way through the informer
