"""The ConfigMaps, Secrets and Services a node's pods use, each kept current by its own watch: the
kubelet's watch-based manager (`configMapAndSecretChangeDetectionStrategy: Watch`).

    objects = ObjectWatches(client, on_change=agent.poke_referencing)
    found = await objects.fetch("ns", [("ConfigMap", "cfg"), ("Secret", "tls")])  # -> {ref: obj or None}
    ...
    await objects.close()

The first `fetch` of an object starts an informer on it alone (`fieldSelector=metadata.name=<name>`,
which the Node authorizer allows for an object a pod of the node names) and reads it once with a
GET; from when that informer has synced, `fetch` answers from its cache, with no request. Before,
every pod sync read each object again once a 2 s cache had expired: at 1,000 hollow nodes and 9,000
pods the periodic resyncs alone made ~300 GETs/s. A change (update, delete, or a creation after the
object was missing) calls `on_change(namespace, kind, name)` so that the pods using it sync at
once, not at their next resync. An object no pod sync asked for in `idle` seconds has its watch
stopped (checked at most every `idle / 10` seconds, on a fetch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..client import ApiClient, Informer, NotFound
from .env import Ref

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (namespace, kind, name)
KINDS = {"ConfigMap": ("v1", "ConfigMap"), "Secret": ("v1", "Secret"), "Service": ("v1", "Service")}
ChangeHook = Callable[[str, str, str], None]


@dataclass
class _Watch:
    informer: Informer
    used: float


class ObjectWatches:
    def __init__(self, client: ApiClient, on_change: ChangeHook | None = None, idle: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.on_change, self.idle, self.clock = client, on_change, idle, clock
        self._watches: dict[Key, _Watch] = {}
        self._swept = clock()
        self.gets = 0  # objects read with a GET (not yet watched): tests, benchmarks

    @property
    def watched(self) -> set[Key]:
        return set(self._watches)

    async def fetch(self, namespace: str, refs: Iterable[Ref]) -> dict[Ref, Obj | None]:
        out: dict[Ref, Obj | None] = {}
        now = self.clock()
        for kind, name in refs:
            key = (namespace, kind, name)
            watch = self._watches.get(key) or self._start(key, now)
            watch.used = now
            if watch.informer.has_synced:
                out[(kind, name)] = watch.informer.cache.get(f"{namespace}/{name}")
            else:
                out[(kind, name)] = await self._get(kind, name, namespace)
        if now - self._swept >= self.idle / 10:
            await self._sweep(now)
        return out

    async def close(self) -> None:
        for watch in self._watches.values():
            await watch.informer.stop()
        self._watches.clear()

    def _start(self, key: Key, now: float) -> _Watch:
        namespace, kind, name = key
        informer = Informer(self.client, KINDS[kind], namespace, field_selector=f"metadata.name={name}",
                            name=f"{kind.lower()}-{namespace}-{name}", backoff_max=10.0)

        def changed(*_objs: Obj) -> None:
            if self.on_change is not None and informer.has_synced:  # (the initial list's add may poke once: harmless)
                self.on_change(namespace, kind, name)

        informer.add_handlers(on_add=changed, on_update=changed, on_delete=changed)
        informer.start()
        watch = self._watches[key] = _Watch(informer, now)
        return watch

    async def _get(self, kind: str, name: str, namespace: str) -> Obj | None:
        self.gets += 1
        try:
            obj = await self.client.get(KINDS[kind], name, namespace)
        except NotFound:
            return None
        obj.setdefault("kind", kind)
        return obj

    async def _sweep(self, now: float) -> None:
        self._swept = now
        for key in [k for k, w in self._watches.items() if now - w.used > self.idle]:
            await self._watches.pop(key).informer.stop()
