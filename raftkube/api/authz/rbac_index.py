"""The RBAC objects every authorization decision reads, held in memory and kept current by watches.

Roles, ClusterRoles, RoleBindings and ClusterRoleBindings are each listed once and then watched
from the list's revision (listed again after a break, e.g. a compacted watch), as
`ClusterTokenAuthenticator` does for Secrets: a decision never waits on the store, and a new
binding takes effect on every API server as soon as its watch delivers it. `synced` is set once
all four kinds are listed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..resources import RBAC, Resource, find
from ..storage import ObjectStorage

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)


def _resource(plural: str) -> Resource:
    resource = find(RBAC, "v1", plural)
    assert resource is not None
    return resource


ROLES, CLUSTER_ROLES = _resource("roles"), _resource("clusterroles")
ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS = _resource("rolebindings"), _resource("clusterrolebindings")
KINDS = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class RBACIndex:
    """`objects[plural][(namespace, name)]` for the four RBAC kinds, and role bindings by namespace."""

    def __init__(self, storage: ObjectStorage | None) -> None:
        self.storage = storage
        self.objects: dict[str, dict[Key, Obj]] = {r.plural: {} for r in KINDS}
        self.bindings_by_namespace: dict[str, dict[str, Obj]] = {}
        self.synced = asyncio.Event()
        self._listed: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ reads
    def role(self, namespace: str, name: str) -> Obj | None:
        return self.objects["roles"].get((namespace, name))

    def cluster_role(self, name: str) -> Obj | None:
        return self.objects["clusterroles"].get(("", name))

    def cluster_roles(self) -> list[Obj]:
        return list(self.objects["clusterroles"].values())

    def cluster_role_bindings(self) -> list[Obj]:
        return list(self.objects["clusterrolebindings"].values())

    def role_bindings(self, namespace: str) -> list[Obj]:
        return list(self.bindings_by_namespace.get(namespace, {}).values())

    # ----------------------------------------------------------------- writes
    def put(self, resource: Resource, obj: Obj) -> None:
        key = _key(obj)
        self.objects[resource.plural][key] = obj
        if resource is ROLE_BINDINGS:
            self.bindings_by_namespace.setdefault(key[0], {})[key[1]] = obj

    def forget(self, resource: Resource, obj: Obj) -> None:
        key = _key(obj)
        self.objects[resource.plural].pop(key, None)
        if resource is ROLE_BINDINGS:
            self.bindings_by_namespace.get(key[0], {}).pop(key[1], None)

    def replace(self, resource: Resource, items: list[Obj]) -> None:
        """Swap in a fresh listing of one kind whole (no moment without the kind's objects)."""
        self.objects[resource.plural] = {_key(obj): obj for obj in items}
        if resource is ROLE_BINDINGS:
            by_namespace: dict[str, dict[str, Obj]] = {}
            for (namespace, name), obj in self.objects["rolebindings"].items():
                by_namespace.setdefault(namespace, {})[name] = obj
            self.bindings_by_namespace = by_namespace

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(resource)) for resource in KINDS]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run(self, resource: Resource) -> None:
        assert self.storage is not None
        while True:
            try:
                listing = await self.storage.list(resource, None, serializable=True)
                self.replace(resource, listing.items)
                self._listed.add(resource.plural)
                if len(self._listed) == len(KINDS):
                    self.synced.set()
                async for event in self.storage.watch(resource, None, listing.resource_version + 1):
                    if event.object is None:
                        continue
                    if event.type in ("ADDED", "MODIFIED"):
                        self.put(resource, event.object)
                    elif event.type == "DELETED":
                        self.forget(resource, event.object)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be electing, or the watch was compacted: list again
                log.info("rbac index (%s): relisting after %s", resource.plural, exc)
            await asyncio.sleep(0.5)
