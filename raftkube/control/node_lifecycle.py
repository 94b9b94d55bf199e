"""The node lifecycle controller: nodes whose Lease stops being renewed go Unknown, get tainted, lose their pods.

Node agents renew one Lease per node in `kube-node-lease`. The controller never compares wall
clocks across machines: it notes, on its own monotonic clock, when it saw each Lease's
renewTime change, and a node whose Lease has not changed for `grace` seconds (8 s by default)
is unreachable. `plan_node` is a pure function of (node, how long since its Lease changed,
how long it has been unhealthy, its pods): the Ready condition set to Unknown (all other
conditions too), the taint `node.kubernetes.io/unreachable:NoExecute` (`not-ready` when the
agent itself reports Ready=False), its pods marked not Ready, and after `pod_eviction_grace`
seconds (5 s by default; a pod's own toleration of the taint, with or without
tolerationSeconds, takes precedence) deleted with gracePeriodSeconds=0, since nothing on the
node can stop them, so that their controllers replace them elsewhere. When the Lease is
renewed again, Ready goes back to True and the taints are removed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import ApiClient, Conflict, NotFound, index_by_node_name
from ..client.events import EventRecorder
from ..machinery.times import rfc3339
from .daemonset_nodes import NOT_READY, UNREACHABLE, UNSCHEDULABLE, node_condition, tolerated
from .podutil import is_terminating, ready_condition
from .runtime import Controller, SharedInformers

Obj = dict[str, Any]
NODE = ("v1", "Node")
POD = ("v1", "Pod")
LEASE = ("coordination.k8s.io/v1", "Lease")
LEASE_NAMESPACE = "kube-node-lease"
OUR_REASONS = ("NodeStatusUnknown", "NodeStatusNeverUpdated")


@dataclass
class NodePlan:
    unhealthy: bool = False
    status: Obj | None = None  # the node status to write, if it changes
    taints: list[Obj] | None = None  # spec.taints to write, if they change
    mark: list[Obj] = field(default_factory=list)  # pods to mark not Ready
    evict: list[Obj] = field(default_factory=list)  # pods to delete now (grace 0)
    requeue: float | None = None
    event: tuple[str, str] | None = None  # (reason, message) on the node


def eviction_delay(pod: Obj, taint: Obj, default: float) -> float | None:
    """Seconds a pod may stay on a node with `taint`: its toleration's tolerationSeconds, forever
    (None) with a toleration without them, else `default`."""
    toleration = tolerated(list((pod.get("spec") or {}).get("tolerations") or []), taint)
    if toleration is None:
        return default
    seconds = toleration.get("tolerationSeconds")
    return None if seconds is None else max(float(seconds), 0.0)


def _with_conditions(node: Obj, fresh: bool, now: str) -> Obj | None:
    """The node status after this pass, or None if it does not change."""
    status = dict(node.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or []]
    ready = node_condition(node)
    changed = False
    if not fresh:
        if ready is not None and ready.get("status") == "Unknown":
            return None  # already so (every condition went Unknown with it, as in Kubernetes)
        if ready is None:
            conditions.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.", "lastHeartbeatTime": now,
                               "lastTransitionTime": now})
            changed = True
        for cond in conditions:
            if cond.get("status") != "Unknown":
                cond.update(status="Unknown", reason="NodeStatusUnknown", lastTransitionTime=now,
                            message="Kubelet stopped posting node status.")
                changed = True
    elif ready is not None and ready.get("status") == "Unknown" and ready.get("reason") in OUR_REASONS:
        for cond in conditions:
            if cond.get("type") == "Ready":
                cond.update(status="True", reason="NodeLeaseRenewed", lastTransitionTime=now, lastHeartbeatTime=now,
                            message="The node's lease is renewed again.")
        changed = True
    return {**status, "conditions": conditions} if changed else None


def _with_taint(node: Obj, wanted: str | None, now: str) -> list[Obj] | None:
    """spec.taints with exactly `wanted` of our two NoExecute taints, and `node.kubernetes.io/unschedulable:
    NoSchedule` while the node is cordoned (spec.unschedulable, as Kubernetes' taint-by-condition), or
    None if unchanged."""
    spec = node.get("spec") or {}
    taints = list(spec.get("taints") or [])
    managed = (UNREACHABLE, NOT_READY, UNSCHEDULABLE)
    ours = {(t.get("key"), t.get("effect")) for t in taints if t.get("key") in managed}
    target = {(wanted, "NoExecute")} if wanted else set()
    if spec.get("unschedulable") is True:
        target.add((UNSCHEDULABLE, "NoSchedule"))
    if ours == target:
        return None
    kept = [t for t in taints if t.get("key") not in managed]
    if spec.get("unschedulable") is True:
        kept.append({"key": UNSCHEDULABLE, "effect": "NoSchedule", "timeAdded": now})
    if wanted:
        kept.append({"key": wanted, "effect": "NoExecute", "timeAdded": now})
    return kept


def plan_node(node: Obj, lease_age: float, grace: float, unhealthy_for: float | None, pods: list[Obj],
              eviction_grace: float, now: str, renewed: bool = True) -> NodePlan:
    """`lease_age`: seconds (monotonic) since the controller saw the node's Lease change (or first saw
    it); `renewed`: whether it has seen a renewal at all (a controller that just took over has not:
    a node it finds Unknown stays so until its Lease moves); `unhealthy_for`: seconds since it
    first found the node unhealthy (None: healthy until now)."""
    name = node["metadata"]["name"]
    ready = node_condition(node)
    fresh = lease_age < grace and (renewed or ready is None or ready.get("status") != "Unknown")
    reported_down = fresh and ready is not None and ready.get("status") == "False"
    plan = NodePlan(unhealthy=not fresh or reported_down)
    plan.status = _with_conditions(node, fresh, now)
    taint_key = UNREACHABLE if not fresh else NOT_READY if reported_down else None
    plan.taints = _with_taint(node, taint_key, now)
    if plan.status is not None:
        plan.event = (("NodeNotReady", f"Node {name} status is now: NodeNotReady") if not fresh
                      else ("NodeReady", f"Node {name} status is now: NodeReady"))
    if not plan.unhealthy or taint_key is None:
        plan.requeue = max(grace - lease_age, 0.0) + 0.05  # when the Lease would be stale
        return plan
    taint = {"key": taint_key, "effect": "NoExecute"}
    elapsed = unhealthy_for or 0.0
    waits = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        cond = ready_condition(pod)
        if not is_terminating(pod) and (cond is None or cond.get("status") != "False"):
            plan.mark.append(pod)
        delay = eviction_delay(pod, taint, eviction_grace)
        if delay is None:
            continue
        if elapsed >= delay:
            plan.evict.append(pod)
        else:
            waits.append(delay - elapsed)
    plan.requeue = min(waits) + 0.05 if waits else None
    return plan


def not_ready_status(pod: Obj, now: str) -> Obj:
    status = dict(pod.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
    conditions.append({"type": "Ready", "status": "False", "reason": "NodeNotReady",
                       "message": "The pod's node is not ready.", "lastProbeTime": None, "lastTransitionTime": now})
    return {**status, "conditions": conditions}


class NodeLifecycleController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder, *,
                 grace: float = 8.0, pod_eviction_grace: float = 5.0, monitor_period: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.recorder = client, recorder
        self.grace, self.pod_eviction_grace, self.monitor_period = grace, pod_eviction_grace, monitor_period
        self.clock = clock
        self.nodes = informers.get(*NODE)
        self.leases = informers.get(*LEASE)
        self.pods = informers.get(*POD)
        self.pods.cache.add_indexer("node", index_by_node_name)  # the shared informer may lack it
        # node -> (renewTime, when we saw it change, whether we saw it change at all)
        self.renewals: dict[str, tuple[str | None, float, bool]] = {}
        self.unhealthy_since: dict[str, float] = {}
        self.controller = Controller("node-lifecycle", self.reconcile, workers=2)
        self.nodes.add_handlers(on_add=self._node_event, on_update=lambda old, new: self._node_event(new),
                                on_delete=self._node_deleted)
        self.leases.add_handlers(on_add=self._lease_event, on_update=lambda old, new: self._lease_event(new))
        self.pods.add_handlers(on_add=self._pod_event, on_update=lambda old, new: self._pod_event(new))

    def _node_event(self, node: Obj) -> None:
        self.controller.enqueue_key(node["metadata"]["name"])

    def _node_deleted(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        self.renewals.pop(name, None)
        self.unhealthy_since.pop(name, None)

    def _lease_event(self, lease: Obj) -> None:
        meta = lease.get("metadata") or {}
        if meta.get("namespace") != LEASE_NAMESPACE:
            return
        renew = (lease.get("spec") or {}).get("renewTime")
        seen = self.renewals.get(meta["name"])
        if seen is None or seen[0] != renew:
            self.renewals[meta["name"]] = (renew, self.clock(), seen is not None)
            self.controller.enqueue_key(meta["name"])

    def _pod_event(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node in self.unhealthy_since:  # a pod bound to a node we are evacuating
            self.controller.enqueue_key(node)

    def lease_age(self, name: str) -> float:
        if name not in self.renewals:  # no Lease seen yet: the grace period starts now
            self.renewals[name] = (None, self.clock(), False)
        return self.clock() - self.renewals[name][1]

    async def run(self, acting: Callable[[], bool]) -> None:
        """A safety net: every node is looked at every `monitor_period` seconds."""
        while True:
            await asyncio.sleep(self.monitor_period)
            if acting():
                for node in self.nodes.cache.list():
                    self._node_event(node)

    async def reconcile(self, key: str) -> float | None:
        node = self.nodes.cache.get_by_name(key)
        if node is None:
            return None
        since = self.unhealthy_since.get(key)
        now = rfc3339()
        age = self.lease_age(key)
        plan = plan_node(node, age, self.grace, None if since is None else self.clock() - since,
                         self.pods.cache.by_index("node", key), self.pod_eviction_grace, now, self.renewals[key][2])
        if plan.unhealthy and since is None:
            self.unhealthy_since[key] = self.clock()
        elif not plan.unhealthy:
            self.unhealthy_since.pop(key, None)
        try:
            current = node
            if plan.status is not None:
                current = await self.client.update_status(NODE, {**current, "status": plan.status})
            if plan.taints is not None:
                await self.client.update(NODE, {**current, "spec": {**(current.get("spec") or {}),
                                                                    "taints": plan.taints}})
        except (Conflict, NotFound):
            return 0.1  # changed meanwhile: decide again on the newer version
        if plan.event is not None:
            self.recorder.record(node, "Normal", *plan.event)
        await asyncio.gather(*(self._mark(p, now) for p in plan.mark), *(self._evict(node, p) for p in plan.evict))
        return plan.requeue

    async def _mark(self, pod: Obj, now: str) -> None:
        try:
            await self.client.update_status(POD, {**pod, "status": not_ready_status(pod, now)})
        except (Conflict, NotFound):
            pass  # the pod changed or went; the next pass sees it

    async def _evict(self, node: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(POD, meta["name"], meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
        except (Conflict, NotFound):
            return
        self.recorder.record(pod, "Normal", "TaintManagerEviction", f"Deleting pod {meta['namespace']}/"
                             f"{meta['name']}: node {node['metadata']['name']} is not ready")
