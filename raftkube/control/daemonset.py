"""The DaemonSet controller: one pod per eligible node, rolled to a new template `maxUnavailable` at a time.

`plan_daemonset` is a pure function of (DaemonSet, nodes, pods in its namespace, now): which
nodes need a pod, which pods to delete (on nodes that no longer fit, failed ones, duplicates,
old revisions during a rolling update) and the status. Pods are created already bound, with
`spec.nodeName` set (Kubernetes 1.32 sets a node affinity on `metadata.name` and lets the
scheduler bind; here the controller binds directly). A pod's template revision is the label
`controller-revision-hash` (a hash of `spec.template`; no ControllerRevision objects are kept).
Only `maxSurge: 0` rolling updates are done (a surge is treated as maxUnavailable 1).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.times import parse_rfc3339
from .daemonset_nodes import daemon_tolerations, should_continue, should_run
from .expectations import Expectations
from .podutil import is_active, is_available, is_ready, is_terminating, pod_from_template
from .runtime import Controller, OwnedPodEvents, SharedInformers, controller_of, on_change, split_key

Obj = dict[str, Any]
DS = ("apps/v1", "DaemonSet")
POD = ("v1", "Pod")
NODE = ("v1", "Node")
HASH_LABEL = "controller-revision-hash"


@dataclass
class DaemonSetPlan:
    create: list[str] = field(default_factory=list)  # node names
    delete: list[Obj] = field(default_factory=list)
    status: Obj = field(default_factory=dict)


def template_hash(ds: Obj) -> str:
    template = (ds.get("spec") or {}).get("template") or {}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def max_unavailable(ds: Obj, desired: int) -> int:
    """maxUnavailable scaled to `desired` (percentages round up, as for DaemonSets); at least 1."""
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        number = math.ceil(int(value[:-1]) * desired / 100)
    else:
        number = int(value or 0)
    return max(number, 1)


def _age_rank(pod: Obj) -> tuple[bool, float, str]:
    meta = pod.get("metadata") or {}
    return (not is_ready(pod), parse_rfc3339(meta.get("creationTimestamp")) or 0.0, meta.get("name", ""))


def plan_daemonset(ds: Obj, nodes: list[Obj], pods: list[Obj], now: float) -> DaemonSetPlan:
    spec = ds.get("spec") or {}
    pod_spec = {**(((spec.get("template") or {}).get("spec")) or {})}
    pod_spec["tolerations"] = daemon_tolerations(pod_spec)
    uid, current = ds["metadata"]["uid"], template_hash(ds)
    min_ready = int(spec.get("minReadySeconds") or 0)
    by_node: dict[str, list[Obj]] = {}
    for pod in pods:
        ref = controller_of(pod)
        if ref is not None and ref.get("uid") == uid:
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    plan = DaemonSetPlan()
    names = {(n.get("metadata") or {}).get("name") for n in nodes}
    for node_name, node_pods in by_node.items():  # unbound pods, or nodes that are gone
        if node_name not in names:
            plan.delete.extend(p for p in node_pods if not is_terminating(p))
    desired = current_n = misscheduled = ready = available = updated = 0
    kept: dict[str, Obj] = {}  # node -> its daemon pod, on nodes that should run one
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        run, stay = should_run(node, pod_spec), should_continue(node, pod_spec)
        node_pods = by_node.get(name, [])
        failed = [p for p in node_pods if (p.get("status") or {}).get("phase") == "Failed" and not is_terminating(p)]
        plan.delete.extend(failed)  # a failed daemon pod is replaced
        active = sorted((p for p in node_pods if is_active(p)), key=_age_rank)
        if run:
            desired += 1
        if not stay or (not run and not active):
            plan.delete.extend(active)
            misscheduled += 1 if active else 0
            continue
        if not active:
            if run:
                plan.create.append(name)
            continue
        plan.delete.extend(active[1:])  # duplicates: keep the ready, oldest one
        pod = active[0]
        if not run:
            misscheduled += 1
            continue
        kept[name] = pod
        current_n += 1
        ready += is_ready(pod)
        available += is_available(pod, min_ready, now)
        updated += ((pod.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) == current
    deleting = bool(ds["metadata"].get("deletionTimestamp"))
    if deleting:
        plan.create, plan.delete = [], []
    elif ((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate":
        plan.delete.extend(_rolling_victims(kept, current, desired, max_unavailable(ds, desired), min_ready, now))
    plan.status = {
        "desiredNumberScheduled": desired, "currentNumberScheduled": current_n,
        "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
        "numberAvailable": available, "numberUnavailable": max(desired - available, 0),
        "observedGeneration": ds["metadata"].get("generation", 1),
    }
    return plan


def _rolling_victims(kept: dict[str, Obj], current: str, desired: int, budget: int, min_ready: int,
                     now: float) -> list[Obj]:
    """Old-revision pods to delete now: every unavailable one, and available ones while fewer than
    `budget` nodes lack an available pod (a node without a pod counts as unavailable)."""
    unavailable = desired - sum(1 for p in kept.values() if is_available(p, min_ready, now))
    old = [(name, p) for name, p in sorted(kept.items())
           if ((p.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) != current]
    victims = [p for _, p in old if not is_available(p, min_ready, now)]
    for _, pod in old:
        if unavailable >= budget:
            break
        if is_available(pod, min_ready, now):
            victims.append(pod)
            unavailable += 1
    return victims


class DaemonSetController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.sets = informers.get(*DS)
        self.pods = informers.get(*POD)
        self.nodes = informers.get(*NODE)
        self.expectations = Expectations()
        self.controller = Controller("daemonset", self.reconcile, workers=2)
        self.sets.add_handlers(**on_change(self.controller.enqueue))
        self.pods.add_handlers(**OwnedPodEvents("DaemonSet", self.controller, self.expectations).handlers())
        self.nodes.add_handlers(**on_change(lambda _node: self._enqueue_all()))

    def _enqueue_all(self) -> None:
        for ds in self.sets.cache.list():
            self.controller.enqueue(ds)

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        ds = self.sets.cache.get_by_name(name, namespace)
        if ds is None:
            self.expectations.forget(key)
            return None
        if not self.expectations.satisfied(key):
            return 1.0
        plan = plan_daemonset(ds, self.nodes.cache.list(), self.pods.cache.by_index("namespace", namespace or ""),
                              time.time())
        if plan.create:
            self.expectations.expect(key, creates=len(plan.create))
        if plan.delete:
            self.expectations.expect(key, deletes=len(plan.delete))
        await asyncio.gather(self._create(key, ds, plan.create), self._delete(key, ds, plan.delete))
        await self._write_status(ds, plan.status)
        return None

    async def _create(self, key: str, ds: Obj, nodes: list[str]) -> None:
        template = (ds.get("spec") or {}).get("template") or {}

        async def one(node: str) -> None:
            body = pod_from_template(ds, template, extra_labels={HASH_LABEL: template_hash(ds)})
            body["spec"]["nodeName"] = node
            body["spec"]["tolerations"] = daemon_tolerations(body["spec"])
            try:
                pod = await self.client.create(POD, body, ds["metadata"]["namespace"])
            except Exception as err:
                self.expectations.created(key)  # never to be observed
                self.recorder.record(ds, "Warning", "FailedCreate", f"Error creating pod on node {node}: {err}")
                raise
            self.recorder.record(ds, "Normal", "SuccessfulCreate",
                                 f"Created pod: {pod['metadata']['name']} on node {node}")
        results = await asyncio.gather(*(one(n) for n in nodes), return_exceptions=True)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            raise failures[0]

    async def _delete(self, key: str, ds: Obj, pods: list[Obj]) -> None:
        async def one(pod: Obj) -> None:
            meta = pod["metadata"]
            try:
                await self.client.delete(POD, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
                self.recorder.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")
            except (NotFound, Conflict):
                self.expectations.deleted(key)
        await asyncio.gather(*(one(p) for p in pods))

    async def _write_status(self, ds: Obj, status: Obj) -> None:
        current = ds.get("status") or {}
        if all(current.get(k, 0) == v for k, v in status.items()):
            return
        try:
            await self.client.update_status(DS, {**ds, "status": {**current, **status}}, ds["metadata"]["namespace"])
        except (Conflict, NotFound):
            pass  # a newer version comes through the informer and is reconciled
