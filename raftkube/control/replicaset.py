"""The ReplicaSet controller: keep `spec.replicas` pods matching the selector, owned by the set.

`plan_replicaset` is a pure function of (ReplicaSet, pods in its namespace, now): how many pods
to create, which to delete (Kubernetes' order: unscheduled, pending, not ready, most
restarted, newest first), which orphans to adopt and which pods to release, and the status.
The controller applies a plan only when the previous one's creations and deletions have all
been observed (expectations), so a lagging cache never makes it create twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..client import ApiClient, ApiError, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.labels import selector_from_spec
from .expectations import Expectations
from .podutil import deletion_rank, is_active, is_available, is_ready, owner_reference, pod_from_template
from .runtime import Controller, OwnedPodEvents, SharedInformers, controller_of, on_change, split_key

Obj = dict[str, Any]
RS = ("apps/v1", "ReplicaSet")
POD = ("v1", "Pod")
MAX_BURST = 500


@dataclass
class ReplicaSetPlan:
    create: int = 0
    delete: list[Obj] = field(default_factory=list)
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)
    status: Obj = field(default_factory=dict)


def owned_pods(owner: Obj, pods: list[Obj], label_selector: Obj | None = None) -> tuple[list[Obj], list[Obj],
                                                                                     list[Obj]]:
    """(owned and matching, orphans to adopt, owned but no longer matching). `label_selector` (a
    metav1.LabelSelector) defaults to the owner's spec.selector."""
    if label_selector is None:
        label_selector = (owner.get("spec") or {}).get("selector")
    selector = selector_from_spec(label_selector)
    uid = owner["metadata"]["uid"]
    owned, orphans, released = [], [], []
    for pod in pods:
        ref = controller_of(pod)
        matches = selector.matches((pod.get("metadata") or {}).get("labels"))
        if ref is not None and ref.get("uid") == uid:
            (owned if matches else released).append(pod)
        elif ref is None and matches and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            orphans.append(pod)
    return owned, orphans, released


def plan_replicaset(rs: Obj, pods: list[Obj], now: float, label_selector: Obj | None = None) -> ReplicaSetPlan:
    spec = rs.get("spec") or {}
    owned, orphans, released = owned_pods(rs, pods, label_selector)
    deleting = bool(rs["metadata"].get("deletionTimestamp"))
    if deleting:
        orphans = []
    candidates = owned + orphans
    active = [p for p in candidates if is_active(p)]
    wanted = int(spec.get("replicas", 1))
    plan = ReplicaSetPlan(adopt=orphans, release=released)
    if not deleting:
        diff = len(active) - wanted
        if diff < 0:
            plan.create = min(-diff, MAX_BURST)
        elif diff > 0:
            plan.delete = sorted(active, key=deletion_rank)[:diff]
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    plan.status = {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(1 for p in active if template_labels.items() <= (
            (p.get("metadata") or {}).get("labels") or {}).items()),
        "readyReplicas": sum(1 for p in active if is_ready(p)),
        "availableReplicas": sum(1 for p in active if is_available(p, min_ready, now)),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    return plan


class ReplicaSetController:
    """Also the base of the ReplicationController's manager (control/replication.py): the resource,
    the controller's name and how the selector is read are class attributes / a method."""

    resource: tuple[str, str] = RS
    name = "replicaset"

    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.sets = informers.get(*self.resource)
        self.pods = informers.get(*POD)
        self.expectations = Expectations()
        self.controller = Controller(self.name, self.reconcile, workers=4)
        self.sets.add_handlers(**on_change(self.controller.enqueue))
        self.pods.add_handlers(**OwnedPodEvents(self.resource[1], self.controller, self.expectations,
                                                orphan=self._orphan_seen).handlers())

    def label_selector(self, owner: Obj) -> Obj | None:
        """The owner's selector as a metav1.LabelSelector."""
        return (owner.get("spec") or {}).get("selector")

    def _orphan_seen(self, pod: Obj) -> None:
        for rs in self.sets.cache.by_index("namespace", pod["metadata"].get("namespace", "")):
            self.controller.enqueue(rs)  # any set in its namespace might adopt it

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        rs = self.sets.cache.get_by_name(name, namespace)
        if rs is None:
            self.expectations.forget(key)
            return None
        if not self.expectations.satisfied(key):
            return 1.0  # wait for the informer to show what we did (or the expectation to expire)
        pods = self.pods.cache.by_index("namespace", namespace or "")
        plan = plan_replicaset(rs, pods, time.time(), self.label_selector(rs))
        await self._adopt_and_release(rs, plan)
        if plan.create:
            self.expectations.expect(key, creates=plan.create)
            await self._create(key, rs, plan.create)
        if plan.delete:
            self.expectations.expect(key, deletes=len(plan.delete))
            await self._delete(key, rs, plan.delete)
        await self._write_status(rs, plan.status)
        return None

    async def _create(self, key: str, rs: Obj, count: int) -> None:
        template = (rs.get("spec") or {}).get("template") or {}
        body = pod_from_template(rs, template)
        results = await asyncio.gather(*(self.client.create(POD, body, rs["metadata"]["namespace"])
                                         for _ in range(count)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for result in results:
            if isinstance(result, dict):
                self.recorder.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {result['metadata']['name']}")
        if failed:
            for _ in failed:
                self.expectations.created(key)  # these will never be observed
            self.recorder.record(rs, "Warning", "FailedCreate", f"Error creating: {failed[0]}")
            raise failed[0] if isinstance(failed[0], Exception) else RuntimeError(str(failed[0]))

    async def _delete(self, key: str, rs: Obj, pods: list[Obj]) -> None:
        async def one(pod: Obj) -> None:
            try:
                await self.client.delete(POD, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                         preconditions={"uid": pod["metadata"]["uid"]})
                self.recorder.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            except (NotFound, Conflict):
                self.expectations.deleted(key)  # already gone: no delete event will come for us
        await asyncio.gather(*(one(p) for p in pods))

    async def _adopt_and_release(self, rs: Obj, plan: ReplicaSetPlan) -> None:
        for pod in plan.adopt:
            refs = [*(pod["metadata"].get("ownerReferences") or []), owner_reference(rs)]
            await self._patch_owners(pod, refs)
        for pod in plan.release:
            refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("uid") != rs["metadata"]["uid"]]
            await self._patch_owners(pod, refs)

    async def _patch_owners(self, pod: Obj, refs: list[Obj]) -> None:
        patch = {"metadata": {"ownerReferences": refs, "resourceVersion": pod["metadata"]["resourceVersion"]}}
        try:
            await self.client.patch(POD, pod["metadata"]["name"], patch, pod["metadata"]["namespace"],
                                    patch_type="merge")
        except (NotFound, Conflict):
            pass  # changed meanwhile: the next reconcile sees the new state

    async def _write_status(self, rs: Obj, status: Obj) -> None:
        current = rs.get("status") or {}
        if all(current.get(k, 0) == v for k, v in status.items()):
            return
        updated = {**rs, "status": {**current, **status}}
        try:
            await self.client.update_status(self.resource, updated, rs["metadata"]["namespace"])
        except (Conflict, NotFound):
            pass  # a newer version is on its way through the informer; it will be reconciled
        except ApiError:
            raise
