"""Every resource one API server serves: the built-in table plus the Established CRDs' versions.

The built-ins come from `resources.SERVED`; custom resources come from the
CustomResourceDefinitions in the store, listed once and then kept current by a watch (listed
again after a break), so every API replica converges on the same set: a CRD created through
one replica is served by another as soon as that replica's watch delivers it. A lookup that
misses a non-built-in group re-reads the CRDs once (linearizably) before answering 404, so the
replica that just wrote a CRD serves it at once. `generation` grows with every change (the
OpenAPI documents of custom groups are cached per generation).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from .crd.resource import CustomResource, served_resources
from .resources import SERVED, Resource
from .resources import find as find_builtin
from .storage import ObjectStorage

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CRDS = find_builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions")
BUILTIN_GROUPS = frozenset(r.group for r in SERVED)
SYNC_TIMEOUT = 10.0


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version order: GA before beta before alpha, higher numbers first, others last."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if match is None:
        return (3, 0, 0)
    major, level, minor = int(match.group(1)), match.group(2), int(match.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -major, -minor)


class ResourceRegistry:
    def __init__(self, storage: ObjectStorage | None) -> None:
        self.storage = storage
        self.generation = 0
        self.synced = asyncio.Event()
        self._by_crd: dict[str, list[CustomResource]] = {}
        self._crds: dict[str, Obj] = {}  # name -> the CRD as last seen
        self._by_path: dict[tuple[str, str, str], CustomResource] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lookups
    def find(self, group: str, version: str, plural: str) -> Resource | None:
        builtin = find_builtin(group, version, plural)
        return builtin if builtin is not None else self._by_path.get((group, version, plural))

    async def find_fresh(self, group: str, version: str, plural: str) -> Resource | None:
        """`find`, re-reading the CRDs first when a custom group's resource is not known yet."""
        found = self.find(group, version, plural)
        if found is None and group not in BUILTIN_GROUPS and self.storage is not None:
            await self.refresh()
            found = self.find(group, version, plural)
        return found

    def custom(self) -> list[CustomResource]:
        return [r for resources in self._by_crd.values() for r in resources]

    def served(self) -> list[Resource]:
        return [*SERVED, *self.custom()]

    def custom_group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first, for the custom groups."""
        out: dict[str, list[str]] = {}
        for r in self.custom():
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return {group: sorted(versions, key=version_priority) for group, versions in sorted(out.items())}

    def group_versions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in SERVED:
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        for group, versions in self.custom_group_versions().items():  # (a built-in group keeps its versions first)
            known = out.setdefault(group, [])
            known += [v for v in versions if v not in known]
        return out

    def of_crd(self, name: str) -> list[CustomResource]:
        return list(self._by_crd.get(name, []))

    def other_crds(self, name: str) -> list[Obj]:
        """Every CRD seen but the one named (for the naming check)."""
        return [crd for other, crd in self._crds.items() if other != name]

    # ------------------------------------------------------------------ updates
    def observe(self, crd: Obj) -> None:
        name = (crd.get("metadata") or {}).get("name", "")
        self._crds[name] = crd
        resources = served_resources(crd)
        taken = {(r.group, r.version, r.plural) for other, rs in self._by_crd.items() if other != name for r in rs}
        resources = [r for r in resources if (r.group, r.version, r.plural) not in taken
                     and find_builtin(r.group, r.version, r.plural) is None]
        self._set(name, resources)

    def forget(self, name: str) -> None:
        self._crds.pop(name, None)
        self._set(name, [])

    def replace(self, crds: list[Obj]) -> None:
        names = {(c.get("metadata") or {}).get("name", "") for c in crds}
        for name in list(self._by_crd):
            if name not in names:
                self.forget(name)
        for crd in crds:
            self.observe(crd)

    def _set(self, name: str, resources: list[CustomResource]) -> None:
        before = self._by_crd.get(name, [])
        if [r.__dict__ for r in before] == [r.__dict__ for r in resources]:
            return
        for r in before:
            self._by_path.pop((r.group, r.version, r.plural), None)
        if resources:
            self._by_crd[name] = resources
        else:
            self._by_crd.pop(name, None)
        for r in resources:
            self._by_path[(r.group, r.version, r.plural)] = r
        self.generation += 1

    # ---------------------------------------------------------------- lifecycle
    async def refresh(self) -> None:
        """One linearizable listing of the CRDs."""
        assert self.storage is not None and CRDS is not None
        self.replace((await self.storage.list(CRDS, None)).items)

    async def ready(self, timeout: float = SYNC_TIMEOUT) -> None:
        """Start the watch if it is not running, and wait (bounded) for the first listing."""
        if self.storage is None:
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        if not self.synced.is_set():
            try:
                await asyncio.wait_for(self.synced.wait(), timeout)
            except TimeoutError:
                log.warning("resource registry: CRDs not listed after %.0f s; serving the built-ins", timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        assert self.storage is not None and CRDS is not None
        while True:
            try:
                listing = await self.storage.list(CRDS, None, serializable=True)
                self.replace(listing.items)
                self.synced.set()
                async for event in self.storage.watch(CRDS, None, listing.resource_version + 1):
                    if event.object is None:
                        continue
                    if event.type == "DELETED":
                        self.forget(event.object["metadata"]["name"])
                    else:
                        self.observe(event.object)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be electing, or the watch was compacted: list again
                log.info("resource registry: relisting CRDs after %s", exc)
            await asyncio.sleep(0.5)
