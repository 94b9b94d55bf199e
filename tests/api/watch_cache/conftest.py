"""A one-replica store in a background event loop, ObjectStorage over it, and a watch cache: the watch
cache tests (hypothesis examples are synchronous) run their coroutines there."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from raftkube.api.resources import find
from raftkube.api.storage import ObjectStorage
from raftkube.api.watch_cache import ListReads, WatchCache
from raftkube.local.store_cluster import free_port
from raftkube.store import LocalClient, ReplicaConfig, StoreReplica

T = TypeVar("T")
CONFIGMAPS = find("", "v1", "configmaps")
assert CONFIGMAPS is not None


@dataclass
class CacheWorld:
    loop: asyncio.AbstractEventLoop
    replica: StoreReplica
    storage: ObjectStorage
    cache: WatchCache
    cached: ListReads  # lists and watches through the watch cache
    direct: ListReads  # the same API without a cache: every read goes to the store

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def put(self, namespace: str, name: str, labels: dict[str, str]) -> int:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"v": secrets.token_hex(4)},
               "metadata": {"name": name, "namespace": namespace, "labels": labels}}
        current = await self.storage.get_or_none(CONFIGMAPS, namespace, name)
        if current is None:
            created = await self.storage.create(CONFIGMAPS, obj)
        else:
            created = await self.storage.update(CONFIGMAPS, obj, int(current["metadata"]["resourceVersion"]))
        return int(created["metadata"]["resourceVersion"])

    async def delete(self, namespace: str, name: str) -> None:
        current = await self.storage.get_or_none(CONFIGMAPS, namespace, name)
        if current is not None:
            await self.storage.delete(CONFIGMAPS, current, int(current["metadata"]["resourceVersion"]))

    async def revision(self) -> int:
        return await self.direct.current_revision()


@pytest.fixture(scope="module")
def world() -> Iterator[CacheWorld]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> CacheWorld:
        replica = StoreReplica(ReplicaConfig(f"127.0.0.1:{free_port()}", [], password=secrets.token_urlsafe(16)))
        await replica.start()
        await replica.wait_ready(30)
        storage = ObjectStorage(LocalClient(replica))
        cache = WatchCache(storage, window=50)
        return CacheWorld(loop, replica, storage, cache, ListReads(storage, cache), ListReads(storage))
    built = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    yield built

    async def stop() -> None:
        await built.cache.stop()
        await built.replica.stop()
    asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
