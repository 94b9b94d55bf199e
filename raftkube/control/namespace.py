"""The namespace controller: empty a Terminating namespace, then finalize it so that the server removes it.

`plan_namespace` is a pure function of (Namespace, its content per resource, listed from the
API): which resources still hold objects not yet being deleted (deleted as a collection,
propagationPolicy Background), what remains (objects waiting for finalizers or a graceful
pod termination), the status conditions Kubernetes reports (NamespaceContentRemaining,
NamespaceFinalizersRemaining), and whether the namespace can be finalized: once nothing is
left, `PUT /api/v1/namespaces/NAME/finalize` drops the `kubernetes` finalizer from
spec.finalizers and the server deletes the namespace.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..api.resources import RESOURCES, Resource
from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from ..client.refs import collection_path
from ..machinery.times import rfc3339
from .custom_kinds import CRD, custom_resources
from .runtime import Controller, SharedInformers, on_change

Obj = dict[str, Any]
NS = ("v1", "Namespace")
FINALIZER = "kubernetes"
CONTENT = tuple(r for r in RESOURCES if r.namespaced)
POLL = 1.0  # seconds between checks while content is going away (its events are not watched)


@dataclass
class NamespacePlan:
    delete: list[Resource] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)  # plural -> objects left
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> objects holding it
    finalize: bool = False
    conditions: list[Obj] = field(default_factory=list)


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": kind, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}


def plan_namespace(ns: Obj, contents: dict[Resource, list[Obj]], now: str) -> NamespacePlan:
    plan = NamespacePlan()
    if not ns["metadata"].get("deletionTimestamp") or FINALIZER not in ((ns.get("spec") or {}).get("finalizers")
                                                                        or []):
        return plan
    for resource, items in sorted(contents.items(), key=lambda kv: kv[0].plural):
        if not items:
            continue
        plan.remaining[resource.group_resource] = len(items)
        if any(not (o.get("metadata") or {}).get("deletionTimestamp") for o in items):
            plan.delete.append(resource)
        for obj in items:
            for finalizer in (obj.get("metadata") or {}).get("finalizers") or []:
                plan.finalizers[finalizer] = plan.finalizers.get(finalizer, 0) + 1
    plan.finalize = not plan.remaining
    if plan.remaining:
        text = ", ".join(f"{name} has {n} resource instances" for name, n in plan.remaining.items())
        content = _condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                             f"Some resources are remaining: {text}", now)
    else:
        content = _condition("NamespaceContentRemaining", "False", "ContentRemoved",
                             "All content successfully removed", now)
    if plan.finalizers:
        text = ", ".join(f"{name} in {n} resource instances" for name, n in sorted(plan.finalizers.items()))
        held = _condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                          f"Some content in the namespace has finalizers remaining: {text}", now)
    else:
        held = _condition("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                          "All content-preserving finalizers finished", now)
    plan.conditions = [content, held]
    return plan


def merge_conditions(current: list[Obj], wanted: list[Obj]) -> list[Obj]:
    """`current` with `wanted` replacing conditions of the same type (the transition time kept when
    nothing but the time changed)."""
    by_type = {c.get("type"): c for c in current}
    out = [c for c in current if c.get("type") not in {w["type"] for w in wanted}]
    for cond in wanted:
        old = by_type.get(cond["type"])
        same = old is not None and all(old.get(k) == cond[k] for k in ("status", "reason", "message"))
        out.append(old if same and old is not None else cond)
    return out


class NamespaceController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.namespaces = informers.get(*NS)
        self.controller = Controller("namespace", self.reconcile, workers=2)
        self.namespaces.add_handlers(**on_change(self.controller.enqueue))
        self.crds = informers.get(*CRD)  # custom kinds are namespace content too

    async def _contents(self, namespace: str) -> dict[Resource, list[Obj]]:
        kinds = [*CONTENT, *(r for r in custom_resources(self.crds) if r.namespaced)]
        lists = await asyncio.gather(*(self.client.list(r, namespace) for r in kinds))
        return {r: list(listing.get("items") or []) for r, listing in zip(kinds, lists, strict=True)}

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.cache.get_by_name(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None  # finalized already; other finalizers are someone else's
        now = rfc3339()
        plan = plan_namespace(ns, await self._contents(key), now)
        for resource in plan.delete:
            await self.client.request("DELETE", collection_path(resource, key),
                                      body={"kind": "DeleteOptions", "apiVersion": "v1",
                                            "propagationPolicy": "Background"})
        if plan.delete:
            names = ", ".join(r.group_resource for r in plan.delete)
            self.recorder.record(ns, "Normal", "DeletingContent", f"Deleting the {names} of namespace {key}")
            return 0.2  # look again soon: most content goes at once
        if plan.finalize:
            await self._finalize(ns)
            return None
        await self._write_conditions(ns, plan.conditions)
        return POLL

    async def _finalize(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        rest = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "resourceVersion": ns["metadata"]["resourceVersion"]},
                "spec": {"finalizers": rest}}
        try:
            await self.client.request("PUT", f"/api/v1/namespaces/{name}/finalize", body=body)
        except NotFound:
            return
        self.recorder.record(ns, "Normal", "NamespaceFinalized", f"Namespace {name} is empty; finalized")

    async def _write_conditions(self, ns: Obj, wanted: list[Obj]) -> None:
        status = ns.get("status") or {}
        conditions = merge_conditions(list(status.get("conditions") or []), wanted)
        if conditions == (status.get("conditions") or []):
            return
        try:
            await self.client.update_status(NS, {**ns, "status": {**status, "conditions": conditions}})
        except (Conflict, NotFound):
            pass  # the next pass writes them on the newer version
