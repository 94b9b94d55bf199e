"""A client-go style informer: list, then watch from the list's resourceVersion, into a local cache.

    informer = Informer(api, POD, indexers={"node": index_by_node_name})
    informer.add_handlers(on_add=queue_key, on_update=lambda old, new: queue_key(new), on_delete=queue_key)
    informer.start()
    await informer.wait_synced()

Handlers are plain functions, sync or async, each called one event at a time in order from its
own queue and task (raftkube/client/listener.py): a slow handler delays only itself, and the
cache is already current when a handler runs, as in client-go. A watch
that breaks (a replica died, the connection dropped) is opened again, on another endpoint if
need be, from the last resourceVersion seen: the store replays every event since, so nothing
is missed and nothing is listed again. A watch answered 410 Expired (that version is
compacted), or one that keeps failing, leads to a relist: the new list is compared with the
cache and handlers get an add, update or delete for each difference (a delete seen this way
carries the last state the cache knew). An event whose object has the resourceVersion already cached
is dropped, so no handler sees the same version twice. With `resync_period`, every cached
object is handed to `on_update(obj, obj)` periodically (level-triggered controllers use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Awaitable, Callable

from .api_client import ApiClient
from .cache import Cache, IndexFunc, Obj, object_key, resource_version
from .errors import ApiUnavailable, Gone
from .listener import Handler, Handlers, Listener
from .refs import ResourceLike

log = logging.getLogger(__name__)


class Informer:
    def __init__(self, client: ApiClient, resource: ResourceLike, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 indexers: dict[str, IndexFunc] | None = None, resync_period: float | None = None,
                 page_size: int = 500, watch_timeout: int = 300, backoff_base: float = 0.1,
                 backoff_max: float = 30.0, max_resumes: int = 5,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, name: str = "") -> None:
        self.client, self.resource, self.namespace = client, resource, namespace
        self.label_selector, self.field_selector = label_selector, field_selector
        self.cache = Cache(indexers)
        self.resync_period = resync_period
        self.page_size, self.watch_timeout = page_size, watch_timeout
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.max_resumes = max_resumes  # failed watches in a row resumed from the cache's version before a relist
        self.name = name or (resource.plural if not isinstance(resource, tuple) else resource[1])
        self._sleep = sleep
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()  # one dispatch at a time: events, relist deltas, resyncs, replays
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self.last_resource_version: str | None = None
        self.relists = 0  # lists made (the first one included)
        self.last_error: BaseException | None = None

    # -- public ----------------------------------------------------------------------------------

    def add_handlers(self, on_add: Handler | None = None, on_update: Handler | None = None,
                     on_delete: Handler | None = None) -> None:
        """on_add(obj), on_update(old, new), on_delete(obj); added while running, it first gets
        an on_add for every cached object, then the events after them."""
        listener = Listener(Handlers(on_add, on_update, on_delete), self.name)
        if self._task is None:
            self._listeners.append(listener)
            return
        task = asyncio.get_running_loop().create_task(self._replay(listener))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """True once the first list is in the cache and every handler has been handed it (False on timeout)."""

        async def synced() -> None:
            await self._synced.wait()
            for listener in list(self._listeners):
                await listener.synced.wait()
        try:
            await asyncio.wait_for(synced(), timeout)
        except TimeoutError:
            return False
        return True

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self.run(), name=f"informer-{self.name}")
            if self.resync_period:
                self._resync_task = loop.create_task(self._resync_loop(self.resync_period))
        return self._task

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._resync_task, *self._side_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = self._resync_task = None
        for listener in self._listeners:
            await listener.stop()

    async def resync(self) -> None:
        """Hand every cached object to on_update(obj, obj) once."""
        async with self._lock:
            for obj in self.cache.list():
                await self._call("on_update", obj, obj)

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """List, watch; a broken watch resumes from the last version seen, and a 410 (or a watch that
        keeps failing to resume) leads to a relist; runs until cancelled (see `stop`)."""
        failures = 0
        resume_from: str | None = None  # set after a break: watch again from there, no list
        for _ in range(1_000_000_000):  # bounded in principle; ends by cancellation
            try:
                rv = resume_from if resume_from is not None else await self._relist()
                resume_from = None
                delivered = await self._watch_from(rv)
                failures = 0 if delivered else failures
            except Gone as exc:  # 410: the version we watch from is gone; relist at once the first time
                self.last_error, resume_from = exc, None
                failures += 1
                log.info("informer %s: %s; relisting", self.name, exc)
                if failures > 1:
                    await self._sleep(self._backoff(failures - 1))
            except ApiUnavailable as exc:  # a broken stream or no endpoint: the cache is good up to the last version
                self.last_error = exc
                failures += 1
                synced = self._synced.is_set() and self.last_resource_version is not None
                resume_from = self.last_resource_version if synced and failures <= self.max_resumes else None
                log.warning("informer %s: %s; %s after a pause", self.name, exc,
                            f"resuming from {resume_from}" if resume_from is not None else "relisting")
                await self._sleep(self._backoff(failures))
            except Exception as exc:  # ApiError, a broken answer, ...: never let the informer die
                self.last_error, resume_from = exc, None
                failures += 1
                log.warning("informer %s: %s: %s; relisting after a pause", self.name, type(exc).__name__, exc)
                await self._sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        return float(min(self.backoff_base * 2.0 ** max(failures - 1, 0), self.backoff_max))

    async def _relist(self) -> str | None:
        listing = await self.client.list(self.resource, self.namespace, label_selector=self.label_selector,
                                         field_selector=self.field_selector, limit=self.page_size)
        self.relists += 1
        api_version, list_kind = listing.get("apiVersion"), str(listing.get("kind") or "")
        kind = list_kind[:-4] if list_kind.endswith("List") else None
        fresh: dict[str, Obj] = {}
        for item in listing.get("items") or []:
            if api_version and kind:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            fresh[object_key(item)] = item
        async with self._lock:
            for key in self.cache.keys():
                if key not in fresh:
                    gone = self.cache.remove(key)
                    await self._call("on_delete", gone)
            for key, item in fresh.items():
                old = self.cache.get(key)
                if old is not None and resource_version(old) == resource_version(item):
                    continue
                self.cache.put(item)
                if old is None:
                    await self._call("on_add", item)
                else:
                    await self._call("on_update", old, item)
        rv = (listing.get("metadata") or {}).get("resourceVersion") or None
        self.last_resource_version = rv
        if not self._synced.is_set():
            for listener in self._listeners:
                listener.mark_synced()
            self._synced.set()
        return rv

    async def _watch_from(self, rv: str | None) -> bool:
        """Watch until a 410 or a break (raised); a stream the server ends is reopened from the last
        version seen. Returns after `max_quiet` empty streams in a row (the caller relists)."""
        delivered, quiet = False, 0
        for _ in range(1_000_000_000):  # bounded in principle; ends by an error or cancellation
            got = False
            events = self.client.watch(self.resource, self.namespace, resource_version=rv,
                                       label_selector=self.label_selector, field_selector=self.field_selector,
                                       allow_bookmarks=True, timeout_seconds=self.watch_timeout, follow=False)
            async with contextlib.aclosing(events):
                async for kind, obj in events:
                    got = delivered = True
                    rv = resource_version(obj) or rv
                    self.last_resource_version = rv
                    if kind != "BOOKMARK":
                        await self._dispatch(kind, obj)
            quiet = 0 if got else quiet + 1
            if quiet > 3:
                return delivered
            if quiet:
                await self._sleep(self._backoff(quiet))
        return delivered

    async def _dispatch(self, kind: str, obj: Obj) -> None:
        key = object_key(obj)
        async with self._lock:
            old = self.cache.get(key)
            if kind == "DELETED":
                if old is None:
                    return  # already gone (a replayed event)
                self.cache.remove(key)
                await self._call("on_delete", obj)
                return
            if old is not None and resource_version(old) == resource_version(obj):
                return  # this version was delivered already
            self.cache.put(obj)
            if old is None:
                await self._call("on_add", obj)
            else:
                await self._call("on_update", old, obj)

    async def _call(self, which: str, *args: Obj | None) -> None:
        for listener in self._listeners:
            listener.notify(which, *args)

    async def _replay(self, listener: Listener) -> None:
        async with self._lock:
            for obj in self.cache.list():
                listener.notify("on_add", obj)
            if self._synced.is_set():
                listener.mark_synced()
            self._listeners.append(listener)

    async def _resync_loop(self, period: float) -> None:
        await self._synced.wait()
        for _ in range(1_000_000_000):  # bounded in principle; ends by cancellation
            await self._sleep(period)
            await self.resync()
