"""Lists and watches with Kubernetes' resourceVersion semantics, from the watch cache when it can.

List (`ListReads.list`), as kube-apiserver with its watch cache (ConsistentListFromCache, 1.31+):

- resourceVersion unset: the newest state (a consistent read). The store's current revision comes
  from a linearizable read (ReadIndex: no log entry), the cache is waited for until it reached
  that revision, then the list is served from memory; if the cache cannot get there in time, the
  store serves it, as before.
- resourceVersion="0" ("any"): what the cache holds now, no store round at all.
- resourceVersion=N with resourceVersionMatch=NotOlderThan (or no match and no limit): the cache
  once it reached N; "Too large resource version" (504) if it does not within 3 s.
- resourceVersionMatch=Exact (or N with a limit and no match, as Kubernetes): the store at N
  (410 Expired once compacted).
- continue: the token's revision; from the cache while the resource did not change since, else
  from the store at that revision (410 Expired once compacted).

Watch (`ListReads.watch`): from the cache's window of recent events when it holds every event after
the start revision, else from the store (which answers 410 Expired for a compacted revision, as
before). Idle cache watchers get a BOOKMARK every second (the store's progress interval). Without
a cache (`--watch-cache=false`) everything goes to the store with the same semantics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeGuard

from ...store import StoreError
from ...store.errors import CompactedError
from ..errors import APIError, Cause, bad_request, invalid, timeout
from ..resources import Resource
from ..selectors import FieldSelector, LabelSelector
from ..storage import (
    ListResult,
    ObjectStorage,
    WatchEvent,
    _translate,
    decode_continue,
    encode_continue,
    parse_resource_version,
)
from .feed import WatchCache
from .resource_cache import ResourceCache

Obj = dict[str, Any]
WAIT_SECONDS = 3.0  # how long a read waits for the cache to reach its revision (kube-apiserver's 3 s)
BOOKMARK_SECONDS = 1.0
EXACT, NOT_OLDER = "Exact", "NotOlderThan"


def check_list_options(resource_version: str | None, match: str | None, is_watch: bool) -> None:
    """Kubernetes' ValidateListOptions for resourceVersion and resourceVersionMatch (422 Invalid)."""
    if not match:
        return
    if is_watch:
        raise _invalid("Forbidden: resourceVersionMatch is forbidden for watch", "FieldValueForbidden")
    if match not in (EXACT, NOT_OLDER):
        raise _invalid(f'Unsupported value: "{match}": supported values: "{EXACT}", "{NOT_OLDER}"',
                       "FieldValueNotSupported")
    if not resource_version:
        raise _invalid("Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                       "FieldValueForbidden")
    if match == EXACT and resource_version == "0":
        raise _invalid('Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                       "FieldValueForbidden")


def _invalid(message: str, reason: str) -> APIError:
    return invalid("ListOptions", "", [Cause("resourceVersionMatch", message, reason)], "meta.k8s.io")


def _matches(obj: Obj, labels: LabelSelector | None, fields: FieldSelector | None) -> bool:
    return (labels is None or labels.matches(obj["metadata"].get("labels"))) and (fields is None or fields.matches(obj))


def page(resource: Resource, cache: ResourceCache, prefix: bytes, start: bytes, labels: LabelSelector | None,
         fields: FieldSelector | None, limit: int, revision: int) -> ListResult:
    """One list (or page) from the cache's objects (stored form: one cache serves every version of a
    resource), in `resource`'s version, as the store path would give it."""
    items: list[Obj] = []
    for key, obj in cache.items(prefix, start):
        if _matches(obj, labels, fields):
            items.append(ObjectStorage.served(resource, obj))
            if limit > 0 and len(items) >= limit:
                more = cache.has_key_after(prefix, key)
                return ListResult(items, revision, encode_continue(key + b"\0", revision) if more else "")
    return ListResult(items, revision)


def usable(cache: ResourceCache | None) -> TypeGuard[ResourceCache]:
    return cache is not None and cache.failed is None and cache.ready.is_set()


class ListReads:
    def __init__(self, storage: ObjectStorage, cache: WatchCache | None = None) -> None:
        self.storage = storage
        self.cache = cache
        self.from_cache = 0  # lists served from memory (tests, benchmarks)
        self.from_store = 0

    async def current_revision(self) -> int:
        """The store's revision now, by a linearizable read (ReadIndex: no log entry)."""
        try:
            return (await self.storage.store.range(b"/", count_only=True)).revision
        except StoreError as err:
            raise _translate(err) from None

    async def _cache(self, resource: Resource) -> ResourceCache | None:
        return None if self.cache is None else await self.cache.cache_for(resource, WAIT_SECONDS)

    async def list(self, resource: Resource, namespace: str | None, labels: LabelSelector | None = None,
                   fields: FieldSelector | None = None, limit: int = 0, continue_token: str = "",
                   resource_version: str | None = None, match: str | None = None) -> ListResult:
        rv = parse_resource_version(resource_version)
        prefix = resource.storage_prefix(namespace)
        if continue_token:
            start, token_rv = decode_continue(continue_token)
            if not start.startswith(prefix):
                raise bad_request("continue token does not belong to this list")
            cache = await self._cache(resource)
            if usable(cache) and cache.unchanged_since(token_rv) and self.cache and self.cache.revision >= token_rv:
                return self._served(page(resource, cache, prefix, start, labels, fields, limit, token_rv))
            return await self._stored(resource, namespace, labels, fields, limit, continue_token)
        if rv and (match == EXACT or (match is None and limit > 0)):
            current = await self.current_revision()
            if rv > current:
                raise timeout(f"Too large resource version: {rv}, current: {current}")
            return await self._stored(resource, namespace, labels, fields, limit, revision=rv)
        if rv == 0:  # "0": any state, as fresh as the cache is
            cache = await self._cache(resource)
            if usable(cache) and self.cache is not None:
                return self._served(page(resource, cache, prefix, prefix, labels, fields, limit, self.cache.revision))
            return await self._stored(resource, namespace, labels, fields, limit, serializable=True)
        wanted = rv if rv else await self.current_revision()
        cache = await self._cache(resource)
        if cache is not None and self.cache is not None and await self.cache.wait_for(wanted, WAIT_SECONDS):
            if usable(cache):
                return self._served(page(resource, cache, prefix, prefix, labels, fields, limit, self.cache.revision))
        listed = await self._stored(resource, namespace, labels, fields, limit)
        if rv and listed.resource_version < rv:
            raise timeout(f"Too large resource version: {rv}, current: {listed.resource_version}")
        return listed

    def _served(self, result: ListResult) -> ListResult:
        self.from_cache += 1
        return result

    async def _stored(self, *args: Any, **kwargs: Any) -> ListResult:
        self.from_store += 1
        return await self.storage.list(*args, **kwargs)

    async def watch(self, resource: Resource, namespace: str | None, start_revision: int,
                    fields: FieldSelector | None = None, deadline: float | None = None) -> AsyncIterator[WatchEvent]:
        """Events from `start_revision` on (as ObjectStorage.watch), BOOKMARK when idle, until `deadline`
        (loop time). `fields` lets the cache hand this watcher only the events of its indexed field's
        value (a superset of what the selector keeps: the caller still filters)."""
        cache = await self._cache(resource)
        if cache is None or not usable(cache) or not cache.can_watch_from(start_revision - 1) \
                or await self._compacted(resource, start_revision):
            async for event in _until(self.storage.watch(resource, namespace, start_revision), deadline):
                yield event
            return
        assert self.cache is not None
        trigger = _trigger(fields, cache.indexed_field)
        watcher = cache.subscribe(resource.storage_prefix(namespace), start_revision - 1, trigger)
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not watcher.queue.empty():  # under load: no timer, no task per event
                    event = watcher.queue.get_nowait()
                else:
                    left = BOOKMARK_SECONDS if deadline is None else min(BOOKMARK_SECONDS, deadline - loop.time())
                    if left <= 0:
                        return
                    try:
                        async with asyncio.timeout(left):
                            event = await watcher.queue.get()
                    except TimeoutError:
                        if deadline is not None and loop.time() >= deadline:
                            return
                        yield WatchEvent("BOOKMARK", None, None, max(self.cache.revision, start_revision - 1))
                        continue
                if event is None:
                    return  # cut off (fell behind, or the cache started over): the client watches again
                if deadline is not None and loop.time() >= deadline:
                    return
                yield _served_event(resource, event)
        finally:
            cache.unsubscribe(watcher)

    async def _compacted(self, resource: Resource, start_revision: int) -> bool:
        """Whether the store compacted `start_revision` away (then its watch answers 410 Expired, as it would
        without a cache; the cache's window may still hold those events). One local read, no Raft round."""
        assert self.cache is not None
        if start_revision > self.cache.revision:
            return False
        try:  # one key (the prefix itself, never an object's): the store checks the revision first
            await self.storage.store.range(resource.storage_prefix(None), serializable=True, revision=start_revision)
        except CompactedError:
            return True
        except StoreError:
            return False
        return False


def _served_event(resource: Resource, event: WatchEvent) -> WatchEvent:
    obj = event.object if event.object is None else ObjectStorage.served(resource, event.object)
    old = event.old if event.old is None else ObjectStorage.served(resource, event.old)
    if obj is event.object and old is event.old:
        return event
    return WatchEvent(event.type, obj, old, event.revision)


def _trigger(fields: FieldSelector | None, indexed_field: str | None) -> str | None:
    """The value a selector pins the indexed field to (`spec.nodeName=X`), else None."""
    return None if fields is None or indexed_field is None else fields.exact(indexed_field)


async def _until(events: AsyncIterator[WatchEvent], deadline: float | None) -> AsyncIterator[WatchEvent]:
    """`events` until `deadline` (loop time; None: for good)."""
    iterator = events.__aiter__()
    loop = asyncio.get_running_loop()
    try:
        while True:
            if deadline is None:
                event = await iterator.__anext__()
            else:
                left = deadline - loop.time()
                if left <= 0:
                    return
                async with asyncio.timeout(left):
                    event = await iterator.__anext__()
            yield event
    except (StopAsyncIteration, TimeoutError):
        return
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
