"""The watch cache's one store watch: every key under /registry/ feeds the resource caches.

`WatchCache` (kube-apiserver's cacher, one watch for all resources) starts, on first use, a store
watch over the whole registry prefix from the store's current revision, and keeps `revision`: the
store revision it has seen everything up to (every event response and progress notification
carries it). A resource's cache is made on its first list or watch: it subscribes to the feed
first (events buffer), then lists the resource from the store at some revision R, then applies
the buffered events after R. Because the store's revision moves only with writes and every
object key is under /registry/, the cache's contents at `revision` are exactly the store's.

If the feed cannot resume (its start revision was compacted, or the store is gone for good), every
resource cache is dropped (their watchers end, clients watch again) and the feed starts over;
meanwhile reads go to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ...store import prefix_end
from ...store.errors import WatchCancelled
from ..errors import APIError
from ..resources import Resource
from ..storage import ObjectStorage, WatchEvent, decode
from .resource_cache import DEFAULT_WINDOW, ResourceCache

log = logging.getLogger(__name__)
REGISTRY = b"/registry/"
RESTART_DELAY = 0.5  # seconds before the feed starts over after a failure


def resource_prefix(key: bytes) -> bytes:
    """/registry/<group>/<plural>/ of an object's key."""
    parts = key.split(b"/", 4)
    return b"/".join(parts[:4]) + b"/"


class WatchCache:
    def __init__(self, storage: ObjectStorage, window: int = DEFAULT_WINDOW) -> None:
        self.storage = storage
        self.window = window
        self.revision = 0
        self.running = False  # the feed follows the store
        self._caches: dict[bytes, ResourceCache] = {}
        self._loading: dict[bytes, asyncio.Task[ResourceCache]] = {}
        self._advanced = asyncio.Event()
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="watch-cache-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._reset(RuntimeError("the watch cache stopped"))

    async def _run(self) -> None:
        while True:
            try:
                current = await self.storage.store.range(b"/", count_only=True)
                await self._follow(current.revision)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is electing, or the feed fell off the history
                log.info("watch cache: starting over after %s", exc)
                self._reset(exc)
            await asyncio.sleep(RESTART_DELAY)

    async def _follow(self, revision: int) -> None:
        """Follow the store from `revision` for good: a watch that ends or is cut off for falling
        behind resumes after the last revision seen; only a failure to resume raises."""
        self.revision = revision
        self.running = True
        self._started.set()
        self._notify()
        while True:
            with contextlib.suppress(WatchCancelled):
                async for response in self.storage.store.watch(REGISTRY, prefix_end(REGISTRY), self.revision + 1,
                                                               prev_kv=True):
                    for event in response.events:
                        self._dispatch(event)
                    if response.revision > self.revision:
                        self.revision = response.revision
                        self._notify()

    def _dispatch(self, event: Any) -> None:
        prefix = resource_prefix(event.kv.key)
        cache = self._caches.get(prefix)
        if cache is None:
            return
        try:
            self._apply(cache, event)
        except APIError as err:  # an undecodable value (a key the API cannot decrypt): drop this cache
            log.warning("watch cache: dropping %s: %s", cache.resource.plural, err)
            del self._caches[prefix]
            cache.fail(err)

    def _apply(self, cache: ResourceCache, event: Any) -> None:
        transformer = self.storage.transformer(cache.resource)
        old = decode(event.prev_kv, transformer=transformer) if event.prev_kv is not None else None
        if event.type == "DELETE":
            if old is None:
                return
            old["metadata"]["resourceVersion"] = str(event.revision)
            cache.apply(event.kv.key, WatchEvent("DELETED", old, None, event.revision))
        else:
            obj = decode(event.kv, transformer=transformer)
            cache.apply(event.kv.key, WatchEvent("ADDED" if old is None else "MODIFIED", obj, old, event.revision))

    def _reset(self, error: BaseException) -> None:
        self.running = False
        self._started.clear()
        caches, self._caches = self._caches, {}
        for cache in caches.values():
            cache.fail(error)
        for task in self._loading.values():
            task.cancel()
        self._loading = {}
        self._notify()

    def _notify(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    # ---------------------------------------------------------------- waiting
    async def wait_for(self, revision: int, timeout: float) -> bool:
        """Wait until the feed has seen `revision` (True), or `timeout` seconds (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.running and self.revision >= revision):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), remaining)
        return True

    # ---------------------------------------------------------------- caches
    async def cache_for(self, resource: Resource, timeout: float) -> ResourceCache | None:
        """The resource's ready cache, made and loaded on first use; None when the feed is not
        running or the load did not finish within `timeout` (the caller reads the store)."""
        self.start()
        prefix = resource.storage_prefix(None)
        task = self._loading.get(prefix)
        if task is None:
            cache = self._caches.get(prefix)
            if cache is not None and cache.ready.is_set():
                return cache
            if not self.running:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._started.wait(), timeout)
                if not self.running:
                    return None
            task = self._loading.get(prefix)
            if task is None:
                task = asyncio.get_running_loop().create_task(self._load(resource), name="watch-cache-load")
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                self._loading[prefix] = task
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            return None
        except Exception as exc:  # the load failed (store unavailable): read the store this time
            log.info("watch cache: loading %s failed: %s", resource.plural, exc)
            return None

    async def _load(self, resource: Resource) -> ResourceCache:
        prefix = resource.storage_prefix(None)
        cache = ResourceCache(resource, self.window)
        self._caches[prefix] = cache  # events buffer from now on
        try:
            listing = await self.storage.list(resource, None, as_stored=True)  # served per version on read
            keyed = [(resource.storage_key(o["metadata"].get("namespace"), o["metadata"]["name"]), o)
                     for o in listing.items]
            cache.load(keyed, listing.resource_version)
            if not await self.wait_for(listing.resource_version, 30.0):
                raise TimeoutError("the watch cache feed did not reach the list's revision")
            if self._caches.get(prefix) is not cache:
                raise RuntimeError("the watch cache started over during the load")
            cache.ready.set()
            return cache
        except BaseException:
            if self._caches.get(prefix) is cache:
                del self._caches[prefix]
            raise
        finally:
            if self._loading.get(prefix) is not None and self._loading[prefix] is asyncio.current_task():
                del self._loading[prefix]

    def stats(self) -> dict[str, Any]:
        return {"revision": self.revision, "running": self.running,
                "resources": {c.resource.plural: len(c.objects) for c in self._caches.values()}}
