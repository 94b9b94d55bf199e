"""The Deployment controller: ReplicaSets per pod-template hash, rolling or recreating between them.

The decisions are `deployment_plan.plan_deployment`, a pure function of (Deployment, the
ReplicaSets of its namespace, their pods, now). This module wires informers to a work queue and
applies a plan with conditional writes only: ReplicaSets are created under a deterministic name
(`<deployment>-<hash>`: a second create is AlreadyExists, never a twin), updated and deleted at
the resourceVersion they were read at, and the Deployment's status is written at its version.
After writing, the controller waits (bounded) until its informers show what it wrote before it
plans the same Deployment again, so a lagging cache cannot make it decide twice.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from ..client import AlreadyExists, ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from . import deployment_util as du
from .deployment_plan import DeploymentPlan, plan_deployment
from .runtime import Controller, SharedInformers, controller_of, on_change, split_key

Obj = dict[str, Any]
DEPLOYMENT = ("apps/v1", "Deployment")
RS = ("apps/v1", "ReplicaSet")
POD = ("v1", "Pod")
PENDING_TTL = 30.0


@dataclass
class PendingWrites:
    """Writes not yet seen in the caches: set name -> the version written over (None: created)."""

    sets: dict[str, str | None] = field(default_factory=dict)
    deployment_rv: str | None = None
    since: float = field(default_factory=time.monotonic)


class DeploymentController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.deployments = informers.get(*DEPLOYMENT)
        self.sets = informers.get(*RS)
        self.pods = informers.get(*POD)
        self.controller = Controller("deployment", self.reconcile, workers=2)
        self._pending: dict[str, PendingWrites] = {}
        self.deployments.add_handlers(**on_change(self.controller.enqueue))
        self.sets.add_handlers(on_add=self._set_changed, on_update=self._set_updated, on_delete=self._set_changed)
        self.pods.add_handlers(on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)

    # -- events -> keys ------------------------------------------------------------------------

    def _set_changed(self, rs: Obj) -> None:
        ref = controller_of(rs)
        namespace = rs["metadata"].get("namespace") or ""
        if ref is not None:
            if ref.get("kind") == "Deployment":
                self.controller.enqueue_key(f"{namespace}/{ref['name']}")
            return
        for d in self.deployments.cache.by_index("namespace", namespace):  # an orphan: who would adopt it?
            if du.claim(d, [rs])[1]:
                self.controller.enqueue(d)

    def _set_updated(self, old: Obj, new: Obj) -> None:
        if (controller_of(old) or {}).get("uid") != (controller_of(new) or {}).get("uid"):
            self._set_changed(old)
        self._set_changed(new)

    def _pod_changed(self, pod: Obj) -> None:
        """Pods come and go: the surge accounting and Recreate's wait depend on them."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.sets.cache.get_by_name(ref["name"], pod["metadata"].get("namespace"))
        owner = controller_of(rs or {})
        if owner is not None and owner.get("kind") == "Deployment":
            self.controller.enqueue_key(f"{pod['metadata'].get('namespace')}/{owner['name']}")

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        def phase(p: Obj) -> tuple[Any, Any]:
            return (p.get("status") or {}).get("phase"), p["metadata"].get("deletionTimestamp")
        if phase(old) != phase(new):
            self._pod_changed(new)

    # -- reconcile -----------------------------------------------------------------------------

    def _caught_up(self, key: str, d: Obj) -> bool:
        pending = self._pending.get(key)
        if pending is None:
            return True
        if time.monotonic() - pending.since > PENDING_TTL:
            del self._pending[key]
            return True
        if pending.deployment_rv is not None and d["metadata"].get("resourceVersion") == pending.deployment_rv:
            return False
        namespace = d["metadata"].get("namespace")
        for name, rv in pending.sets.items():
            rs = self.sets.cache.get_by_name(name, namespace)
            if (rv is None and rs is None) or (rv is not None and rs is not None
                                               and rs["metadata"].get("resourceVersion") == rv):
                return False
        del self._pending[key]
        return True

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        d = self.deployments.cache.get_by_name(name, namespace)
        if d is None:
            self._pending.pop(key, None)
            return None
        if not self._caught_up(key, d):
            return 0.5  # the informer events of our writes will enqueue it sooner
        sets = self.sets.cache.by_index("namespace", namespace or "")
        uid = d["metadata"]["uid"]
        pods = [pod for rs in sets if (controller_of(rs) or {}).get("uid") == uid
                for pod in self.pods.cache.by_index("owner", rs["metadata"]["uid"])]
        plan = plan_deployment(d, sets, pods, time.time())
        pending = PendingWrites()
        try:
            await self._apply(d, plan, pending)
        finally:
            if pending.sets or pending.deployment_rv is not None:
                self._pending[key] = pending
        return plan.requeue_after

    async def _apply(self, d: Obj, plan: DeploymentPlan, pending: PendingWrites) -> None:
        namespace = d["metadata"]["namespace"]
        if plan.adopt or plan.release:
            await self._claim(d, plan)
            return
        if plan.create is not None:
            body = {k: v for k, v in plan.create.items() if k != "status"}
            try:
                await self.client.create(RS, body, namespace)
            except AlreadyExists:
                await self._existing(d, body)
                return
            pending.sets[body["metadata"]["name"]] = None
            self._record(d, plan, body["metadata"]["name"])
        for rs in plan.update:
            written_over = rs["metadata"].get("resourceVersion")
            await self.client.update(RS, rs, namespace)  # Conflict: a newer version is on its way; retried
            pending.sets[rs["metadata"]["name"]] = written_over
            self._record(d, plan, rs["metadata"]["name"])
        current = d
        if plan.annotations is not None:
            patch = {"metadata": {"annotations": plan.annotations, "resourceVersion": d["metadata"]["resourceVersion"]}}
            current = await self.client.patch(DEPLOYMENT, d["metadata"]["name"], patch, namespace, patch_type="merge")
            pending.deployment_rv = d["metadata"]["resourceVersion"]
        if plan.status is not None:
            await self.client.update_status(DEPLOYMENT, {**current, "status": plan.status}, namespace)
            pending.deployment_rv = d["metadata"]["resourceVersion"]
        for rs in plan.delete:
            meta = rs["metadata"]
            try:
                await self.client.delete(RS, meta["name"], namespace,
                                         preconditions={"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]})
            except (NotFound, Conflict):
                pass  # gone already, or changed since: the next sync decides again

    def _record(self, d: Obj, plan: DeploymentPlan, set_name: str) -> None:
        for name, kind, reason, message in plan.events:
            if name == set_name:
                self.recorder.record(d, kind, reason, message)

    async def _existing(self, d: Obj, body: Obj) -> None:
        """The new set's name is taken: ours (the cache lags) or a hash collision (count it)."""
        namespace, name = d["metadata"]["namespace"], body["metadata"]["name"]
        try:
            rs = await self.client.get(RS, name, namespace)
        except NotFound:
            return  # deleted meanwhile: the next sync creates it
        if (controller_of(rs) or {}).get("uid") == d["metadata"]["uid"] and \
                du.equal_ignore_hash(rs["spec"].get("template"), d["spec"].get("template")):
            return
        status = copy.deepcopy(d.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        await self.client.update_status(DEPLOYMENT, {**d, "status": status}, namespace)

    async def _claim(self, d: Obj, plan: DeploymentPlan) -> None:
        namespace = d["metadata"]["namespace"]
        if plan.adopt:  # adopt only for the Deployment as it is now, not as the cache remembers it
            fresh = await self.client.get(DEPLOYMENT, d["metadata"]["name"], namespace)
            if fresh["metadata"]["uid"] != d["metadata"]["uid"] or fresh["metadata"].get("deletionTimestamp"):
                return
        uid = d["metadata"]["uid"]
        for rs, refs in [*((rs, [*(rs["metadata"].get("ownerReferences") or []), du.owner_ref(d)])
                           for rs in plan.adopt),
                         *((rs, [r for r in rs["metadata"].get("ownerReferences") or [] if r.get("uid") != uid])
                           for rs in plan.release)]:
            patch = {"metadata": {"ownerReferences": refs, "resourceVersion": rs["metadata"]["resourceVersion"]}}
            try:
                await self.client.patch(RS, rs["metadata"]["name"], patch, namespace, patch_type="merge")
            except (NotFound, Conflict):
                pass  # changed meanwhile: the next sync sees the new state
