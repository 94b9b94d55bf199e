"""The garbage collector: owner references, cascading deletion (Background, Foreground) and orphaning.

It keeps a graph (owner uid -> dependents) from informers on every namespaced resource
(Events excepted: never owned, and the busiest kind), on Nodes (which own their Leases) and
on every custom kind (an informer joins when its CRD is Established, and leaves with it).
Three decisions, each a pure function:
- `decide_dependent`: an object none of whose owners is still "solid" (exists and is not
  being deleted in the foreground) is deleted (Foreground if it has dependents itself and an
  owner waits for it, else Background); an object with a solid owner only loses its
  references to owners that are gone or going. An owner missing from the caches is looked
  up through the API (by name, compared by uid) before it is called gone.
- `foreground_state`: an owner with a deletionTimestamp and the `foregroundDeletion` finalizer
  keeps it until no dependent with `blockOwnerDeletion` is left (its dependents are deleted
  first), then the finalizer is removed and the server deletes the owner.
- `orphan` finalizer: every dependent's reference to the owner is removed, then the finalizer.
Every write is conditional (resourceVersion, or a uid precondition on deletes).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ..api.resources import RESOURCES, Resource
from ..client import ApiClient, ApiError, Conflict, Informer, NotFound
from ..client.events import EventRecorder
from .custom_kinds import CRD, crd_resource
from .runtime import Controller, SharedInformers

log = logging.getLogger(__name__)
Obj = dict[str, Any]
FOREGROUND, ORPHAN = "foregroundDeletion", "orphan"
SOLID, DANGLING, WAITING = "solid", "dangling", "waiting"
WATCHED = tuple(r for r in RESOURCES if (r.namespaced and r.kind != "Event") or r.kind == "Node")


@dataclass
class DependentAction:
    kind: str = "none"  # "none" | "delete" | "patch"
    policy: str = "Background"
    remove: list[str] = field(default_factory=list)  # owner uids whose references go (for "patch")


def owner_refs(obj: Obj) -> list[Obj]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


def finalizers(obj: Obj) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def owner_state(owner: Obj | None, uid: str) -> str:
    """How an owner looks to its dependents: gone (or replaced by another uid), waiting for
    its dependents (foreground deletion), or solid."""
    if owner is None or (owner.get("metadata") or {}).get("uid") != uid:
        return DANGLING
    meta = owner["metadata"]
    if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
        return WAITING
    return SOLID


def decide_dependent(obj: Obj, states: dict[str, str], has_dependents: bool) -> DependentAction:
    refs = owner_refs(obj)
    if not refs or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return DependentAction()
    by_state: dict[str, list[str]] = {SOLID: [], DANGLING: [], WAITING: []}
    for ref in refs:
        by_state[states.get(ref.get("uid", ""), SOLID)].append(ref.get("uid", ""))
    if by_state[SOLID]:
        remove = by_state[DANGLING] + by_state[WAITING]
        return DependentAction("patch", remove=remove) if remove else DependentAction()
    policy = "Foreground" if by_state[WAITING] and has_dependents else "Background"
    return DependentAction("delete", policy=policy)


def foreground_state(owner: Obj, dependents: list[Obj]) -> tuple[list[Obj], bool]:
    """(dependents to process now, whether the foregroundDeletion finalizer can go): it can once no
    dependent that blocks the owner's deletion is left."""
    uid = owner["metadata"]["uid"]
    blocking = [d for d in dependents
                if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in owner_refs(d))]
    pending = [d for d in dependents if not (d.get("metadata") or {}).get("deletionTimestamp")]
    return pending, not blocking


def without_owner(obj: Obj, uids: list[str]) -> list[Obj]:
    return [r for r in owner_refs(obj) if r.get("uid") not in uids]


def item_key(resource: Resource, obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{resource.api_version}|{resource.kind}|{meta.get('namespace') or ''}/{meta.get('name', '')}"


class GarbageCollector:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder,
                 resources: tuple[Resource, ...] = WATCHED) -> None:
        self.client, self.recorder = client, recorder
        self.informers: dict[tuple[str, str], Informer] = {}
        self.resources: dict[tuple[str, str], Resource] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()
        self.uids: dict[str, str] = {}  # uid -> item key
        self.owners_of: dict[str, set[str]] = {}  # item key -> owner uids
        self.dependents: dict[str, set[str]] = {}  # owner uid -> item keys
        self.absent: set[str] = set()  # owner uids the API confirmed gone (uids never come back)
        self.controller = Controller("garbage-collector", self.reconcile, workers=4)
        self.shared = informers
        self.custom: dict[str, Resource] = {}  # CRD name -> the custom kind watched for it
        for resource in resources:
            self._watch(resource)
        informers.get(*CRD).add_handlers(on_add=self._crd_changed, on_update=lambda old, new: self._crd_changed(new),
                                         on_delete=self._crd_deleted)

    def _watch(self, resource: Resource) -> None:
        informer = self.shared.get(resource.api_version, resource.kind)
        self.informers[(resource.api_version, resource.kind)] = informer
        self.resources[(resource.api_version, resource.kind)] = resource
        informer.add_handlers(on_add=self._handler(resource), on_update=lambda old, new, r=resource:
                              self._observe(r, new), on_delete=self._deleted_handler(resource))

    def _crd_changed(self, crd: Obj) -> None:
        """A custom kind's objects join the graph once its CRD is Established (the storage version's informer)."""
        name, resource = crd["metadata"]["name"], crd_resource(crd)
        current = self.custom.get(name)
        if resource is None or (current is not None and (current.api_version, current.kind) ==
                                (resource.api_version, resource.kind)):
            return
        self.custom[name] = resource
        self._watch(resource)

    def _crd_deleted(self, crd: Obj) -> None:
        resource = self.custom.pop(crd["metadata"]["name"], None)
        if resource is not None:
            key = (resource.api_version, resource.kind)
            self.informers.pop(key, None)
            task = asyncio.get_running_loop().create_task(self.shared.discard(*key))
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    # ------------------------------------------------------------------ the graph
    def _handler(self, resource: Resource) -> Any:
        return lambda obj: self._observe(resource, obj)

    def _deleted_handler(self, resource: Resource) -> Any:
        return lambda obj: self._forget(resource, obj)

    def _observe(self, resource: Resource, obj: Obj) -> None:
        key, meta = item_key(resource, obj), obj.get("metadata") or {}
        self.uids[meta.get("uid", "")] = key
        old, new = self.owners_of.get(key, set()), {r.get("uid", "") for r in owner_refs(obj)}
        for uid in old - new:
            self._unlink(uid, key)
        for uid in new - old:
            self.dependents.setdefault(uid, set()).add(key)
        self.owners_of[key] = new
        if new or meta.get("deletionTimestamp") and {FOREGROUND, ORPHAN} & set(meta.get("finalizers") or []):
            self.controller.enqueue_key(key)
        self._enqueue_owners(old | new)

    def _forget(self, resource: Resource, obj: Obj) -> None:
        key, uid = item_key(resource, obj), (obj.get("metadata") or {}).get("uid", "")
        if self.uids.get(uid) == key:
            del self.uids[uid]
        for owner in self.owners_of.pop(key, set()):
            self._unlink(owner, key)
        self._enqueue_owners({r.get("uid", "") for r in owner_refs(obj)})
        for dependent in list(self.dependents.get(uid, ())):  # they may have lost their last owner
            self.controller.enqueue_key(dependent)

    def _unlink(self, owner: str, key: str) -> None:
        keys = self.dependents.get(owner)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.dependents[owner]

    def _enqueue_owners(self, uids: set[str]) -> None:
        """Owners being deleted wait for their dependents: a dependent's change may let them go."""
        for uid in uids:
            key = self.uids.get(uid)
            found = self._lookup(key) if key is not None else None
            if key is not None and found is not None and found[1]["metadata"].get("deletionTimestamp"):
                self.controller.enqueue_key(key)

    def _lookup(self, key: str) -> tuple[Resource, Obj] | None:
        api_version, kind, rest = key.split("|", 2)
        namespace, _, name = rest.partition("/")
        informer = self.informers.get((api_version, kind))
        obj = informer.cache.get_by_name(name, namespace or None) if informer is not None else None
        return (self.resources[(api_version, kind)], obj) if obj is not None else None

    def _dependents(self, uid: str) -> list[tuple[Resource, Obj]]:
        found = (self._lookup(k) for k in sorted(self.dependents.get(uid, set())))
        return [f for f in found if f is not None and any(r.get("uid") == uid for r in owner_refs(f[1]))]

    async def _owner_state(self, ref: Obj, namespace: str | None) -> str:
        uid = ref.get("uid", "")
        if uid in self.absent:
            return DANGLING
        key = self.uids.get(uid)
        cached = self._lookup(key) if key else None
        if cached is not None:
            return owner_state(cached[1], uid)
        try:  # not in the caches: the API decides (an informer may simply lag)
            resource = await self.client.resolve((ref.get("apiVersion", ""), ref.get("kind", "")))
            owner = await self.client.get(resource, ref.get("name", ""), namespace if resource.namespaced else None)
        except NotFound:
            owner = None
        except (ValueError, ApiError) as err:
            log.info("garbage collector: cannot look up owner %s/%s: %s", ref.get("kind"), ref.get("name"), err)
            return SOLID  # unknown kind or a failing API: never delete on a guess
        state = owner_state(owner, uid)
        if state == DANGLING:
            if len(self.absent) > 10_000:
                self.absent.clear()
            self.absent.add(uid)
        return state

    # ------------------------------------------------------------------ reconcile
    async def reconcile(self, key: str) -> float | None:
        found = self._lookup(key)
        if found is None:
            return None
        resource, obj = found
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            if ORPHAN in (meta.get("finalizers") or []):
                return await self._orphan(resource, obj)
            if FOREGROUND in (meta.get("finalizers") or []):
                return await self._foreground(resource, obj)
            return None
        if not owner_refs(obj):
            return None
        states = {r.get("uid", ""): await self._owner_state(r, meta.get("namespace")) for r in owner_refs(obj)}
        action = decide_dependent(obj, states, bool(self._dependents(meta.get("uid", ""))))
        if action.kind == "patch":
            return await self._patch_refs(resource, obj, without_owner(obj, action.remove))
        if action.kind == "delete":
            try:
                await self.client.delete(resource, meta["name"], meta.get("namespace"),
                                         propagation_policy=action.policy, preconditions={"uid": meta["uid"]})
            except (NotFound, Conflict):
                return None
            gone = ", ".join(f"{r.get('kind')}/{r.get('name')}" for r in owner_refs(obj))
            self.recorder.record(obj, "Normal", "GarbageCollected",
                                 f"Deleted ({action.policy}): its owners are gone or going: {gone}")
        return None

    async def _patch_refs(self, resource: Resource, obj: Obj, refs: list[Obj]) -> float | None:
        meta = obj["metadata"]
        patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": meta["resourceVersion"]}}
        try:
            await self.client.patch(resource, meta["name"], patch, meta.get("namespace"), patch_type="merge")
        except NotFound:
            return None
        except Conflict:
            return 0.2  # changed meanwhile: decide again on the version the informer brings
        return None

    async def _remove_finalizer(self, resource: Resource, obj: Obj, finalizer: str) -> float | None:
        meta = obj["metadata"]
        rest = [f for f in finalizers(obj) if f != finalizer]
        patch = {"metadata": {"finalizers": rest or None, "resourceVersion": meta["resourceVersion"]}}
        try:
            await self.client.patch(resource, meta["name"], patch, meta.get("namespace"), patch_type="merge")
        except NotFound:
            return None
        except Conflict:
            return 0.2
        return None

    async def _foreground(self, resource: Resource, owner: Obj) -> float | None:
        dependents = self._dependents(owner["metadata"]["uid"])
        pending, done = foreground_state(owner, [d for _, d in dependents])
        if done:
            result = await self._remove_finalizer(resource, owner, FOREGROUND)
            if result is None:
                self.recorder.record(owner, "Normal", "ForegroundDeletionDone",
                                     "Dependents deleted; removed the foregroundDeletion finalizer")
            return result
        for dep_resource, dep in dependents:
            if dep in pending:
                self.controller.enqueue_key(item_key(dep_resource, dep))
        return 5.0  # dependents' deletions enqueue us; this is a safety net

    async def _orphan(self, resource: Resource, owner: Obj) -> float | None:
        uid = owner["metadata"]["uid"]
        dependents = self._dependents(uid)
        for dep_resource, dep in dependents:
            retry = await self._patch_refs(dep_resource, dep, without_owner(dep, [uid]))
            if retry is not None:
                return retry  # one conflicted: start again from fresher versions
        if dependents:
            self.recorder.record(owner, "Normal", "OrphanedDependents",
                                 f"Removed the owner reference from {len(dependents)} dependents")
        return await self._remove_finalizer(resource, owner, ORPHAN)
