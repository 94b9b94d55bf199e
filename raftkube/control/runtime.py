"""The machinery every controller shares: informers, a work queue of keys, workers, fencing.

A controller is a name, the events that enqueue keys, and `reconcile(key)`: an ordinary async
function that reads the informers' caches, compares desired with observed, and writes
(conditionally). Workers take keys from a rate-limited queue (a key queued twice is
reconciled once; a failing key backs off exponentially) and reconcile only while
`acting()` says this replica holds the leader lease, checked again right before each key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import ApiClient, Informer, WorkQueue, index_by_namespace, index_by_owner_uid
from ..client.workqueue import ShutDown
from .expectations import Expectations
from .podutil import is_terminating

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Reconcile = Callable[[str], Awaitable[float | None]]  # returns seconds until a requeue, or None


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def split_key(key: str) -> tuple[str | None, str]:
    namespace, _, name = key.rpartition("/")
    return namespace or None, name


def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


class SharedInformers:
    """One informer per resource, shared by every controller of this process."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[tuple[str, str], Informer] = {}
        self.started = False

    def get(self, api_version: str, kind: str, **indexers: Callable[[Obj], list[str]]) -> Informer:
        """The informer of a kind; one asked for after `start` (a custom kind, as its CRD appears) starts now."""
        key = (api_version, kind)
        if key not in self._informers:
            self._informers[key] = Informer(self.client, key, indexers={
                "namespace": index_by_namespace, "owner": index_by_owner_uid, **indexers})
            if self.started:
                self._informers[key].start()
        else:
            informer = self._informers[key]
            for name, fn in indexers.items():  # a second controller may need an index the first did not
                if not informer.cache.has_indexer(name):
                    informer.cache.add_indexer(name, fn)
        return self._informers[key]

    async def discard(self, api_version: str, kind: str) -> None:
        """Stop and forget the informer of a kind that is no longer served (a deleted CRD's)."""
        informer = self._informers.pop((api_version, kind), None)
        if informer is not None:
            await informer.stop()

    async def start(self, timeout: float = 60.0) -> None:
        self.started = True
        for informer in list(self._informers.values()):
            informer.start()
        for informer in list(self._informers.values()):
            await informer.wait_synced(timeout)

    async def stop(self) -> None:
        self.started = False
        for informer in list(self._informers.values()):
            await informer.stop()


@dataclass
class Controller:
    name: str
    reconcile: Reconcile
    workers: int = 2
    queue: WorkQueue[str] = field(default_factory=WorkQueue)

    def enqueue(self, obj: Obj | None) -> None:
        if obj is not None:
            self.queue.add(key_of(obj))

    def enqueue_key(self, key: str, delay: float = 0.0) -> None:
        if delay > 0:
            self.queue.add_after(key, delay)
        else:
            self.queue.add(key)

    def enqueue_owner(self, kind: str) -> Callable[[Obj | None], None]:
        """A handler for dependents: enqueue the controlling owner of `kind` of the object."""
        def handler(obj: Obj | None) -> None:
            ref = controller_of(obj or {})
            if ref is not None and ref.get("kind") == kind:
                namespace = (obj or {}).get("metadata", {}).get("namespace")
                self.queue.add(f"{namespace}/{ref['name']}" if namespace else ref["name"])
        return handler

    async def run(self, acting: Callable[[], bool]) -> None:
        await asyncio.gather(*(self._worker(acting) for _ in range(self.workers)))

    async def _worker(self, acting: Callable[[], bool]) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                if not acting():
                    self.queue.add_after(key, 0.5)  # fenced: leave it for whoever leads
                    continue
                delay = await self.reconcile(key)
                self.queue.forget(key)
                if delay:
                    self.queue.add_after(key, delay)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retried with backoff; a bug must not kill the worker
                log.info("%s: reconcile %s failed (%s: %s); retrying", self.name, key, exc.__class__.__name__, exc)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)


class OwnedPodEvents:
    """Pod events for the controller of `kind` that owns the pod: count them against its
    expectations (a graceful deletion counts when it starts, as client-go does) and enqueue
    the owner. `orphan` (optional) is called for a pod with no controller at all."""

    def __init__(self, kind: str, controller: Controller, expectations: Expectations,
                 orphan: Callable[[Obj], None] | None = None) -> None:
        self.kind, self.controller, self.expectations, self.orphan = kind, controller, expectations, orphan

    def handlers(self) -> dict[str, Callable[..., None]]:
        return {"on_add": lambda pod: self.event(pod, True), "on_update": self.updated,
                "on_delete": lambda pod: self.event(pod, False)}

    def updated(self, old: Obj, new: Obj) -> None:
        marked = is_terminating(new) and not is_terminating(old)
        self.event(new, False if marked else None)

    def event(self, pod: Obj, created: bool | None = None) -> None:
        ref = controller_of(pod)
        if ref is None:
            if self.orphan is not None:
                self.orphan(pod)
            return
        if ref.get("kind") != self.kind:
            return
        key = f"{pod['metadata'].get('namespace')}/{ref['name']}"
        if created is not None:
            (self.expectations.created if created else self.expectations.deleted)(key)
        self.controller.enqueue_key(key)


def on_change(handler: Callable[[Obj | None], None]) -> dict[str, Callable[..., None]]:
    """Informer handlers that call `handler` with the object for add, update (new) and delete."""
    return {"on_add": handler, "on_update": lambda old, new: handler(new), "on_delete": handler}
