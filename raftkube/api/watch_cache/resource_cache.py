"""One resource's objects in memory, at the watch cache's revision, and its recent events.

`ResourceCache` holds every object of one resource (all namespaces), decoded and decrypted, keyed
by storage key in key order (lists page through it like the store), plus a window of its latest
events for watches that start at a recent revision. Objects are shared, never copied: callers
render them, never change them. The cache is filled by `WatchCache` (feed.py): first a list at
revision R (events that arrive meanwhile wait in a buffer), then every event of the resource
after R, in revision order.

Watchers are indexed as kube-apiserver's cacher indexes them ("indexed triggers"): a pod watch with
`fieldSelector=spec.nodeName=X` (every node agent's) is handed only the events whose object, now or
before, is on node X, so a thousand agents' watches cost one dictionary lookup per event instead
of a thousand selector matches. Every other watcher gets every event of its prefix.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedDict

from ..resources import Resource
from ..selectors import field_text
from ..storage import WatchEvent

Obj = dict[str, Any]
DEFAULT_WINDOW = 1_000  # events kept per resource (each holds the object and its previous state) for watches
# from a past revision; an older start goes to the store
WATCHER_QUEUE_LIMIT = 10_000  # a watcher further behind than this is cut off (it re-watches)
INDEXED_FIELDS = {("", "pods"): "spec.nodeName"}  # (group, plural) -> the field watchers are indexed by


def field_value(obj: Obj | None, path: str) -> str | None:
    """The field at `path` of `obj` as a field selector compares it; None without an object."""
    return None if obj is None else field_text(obj, path)


@dataclass(eq=False)
class CacheWatcher:
    prefix: bytes  # the resource's prefix, or one namespace's
    after: int  # only events after this revision
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)
    closed: bool = False
    trigger: str | None = None  # with an indexed field: only events whose object has this value, now or before


class ResourceCache:
    def __init__(self, resource: Resource, window: int = DEFAULT_WINDOW) -> None:
        self.resource = resource
        self.prefix = resource.storage_prefix(None)
        self.objects: SortedDict = SortedDict()  # storage key -> object
        self.events: deque[tuple[bytes, WatchEvent]] = deque(maxlen=window)
        self.loaded_at = 0  # the revision of the initial list
        self.window_start = 0  # every event of this resource after this revision is in `events`
        self.last_change = 0  # the revision of the newest event applied
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self._buffer: list[tuple[bytes, WatchEvent]] | None = []  # events that came during the load
        self._unindexed: set[CacheWatcher] = set()
        self.indexed_field = INDEXED_FIELDS.get((resource.group, resource.plural))
        self._by_trigger: dict[str, set[CacheWatcher]] = {}

    # -------------------------------------------------------------- filling
    def load(self, items: list[tuple[bytes, Obj]], revision: int) -> None:
        """The initial list at `revision`; buffered events after it are applied on top."""
        for key, obj in items:
            self.objects[key] = obj
        self.loaded_at = self.window_start = self.last_change = revision
        buffered, self._buffer = self._buffer or [], None
        for key, event in buffered:
            self.apply(key, event)

    def apply(self, key: bytes, event: WatchEvent) -> None:
        if self._buffer is not None:
            self._buffer.append((key, event))
            return
        if event.revision <= self.loaded_at:
            return  # already in the initial list
        if event.type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = event.object
        if len(self.events) == self.events.maxlen:
            self.window_start = self.events[0][1].revision
        self.events.append((key, event))
        self.last_change = event.revision
        for watcher in self._targets(event):
            if key.startswith(watcher.prefix) and event.revision > watcher.after:
                if watcher.queue.qsize() >= WATCHER_QUEUE_LIMIT:
                    self._drop(watcher)
                else:
                    watcher.queue.put_nowait(event)

    def _targets(self, event: WatchEvent) -> list[CacheWatcher]:
        if not self._by_trigger:
            return list(self._unindexed)
        assert self.indexed_field is not None
        targets = list(self._unindexed)
        values = {field_value(event.object, self.indexed_field), field_value(event.old, self.indexed_field)}
        for value in values:
            if value is not None:
                targets += self._by_trigger.get(value, ())
        return targets

    def wants(self, watcher: CacheWatcher, event: WatchEvent) -> bool:
        if watcher.trigger is None or self.indexed_field is None:
            return True
        return watcher.trigger in (field_value(event.object, self.indexed_field),
                                   field_value(event.old, self.indexed_field))

    def _all_watchers(self) -> list[CacheWatcher]:
        return [*self._unindexed, *(w for group in self._by_trigger.values() for w in group)]

    def fail(self, error: BaseException) -> None:
        """The cache can no longer follow the store: its watchers end (clients watch again)."""
        self.failed = error
        for watcher in self._all_watchers():
            self._drop(watcher)

    # -------------------------------------------------------------- reading
    def items(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, Obj]]:
        """(key, object) under `prefix` in key order, from `start` on."""
        begin = max(prefix, start)
        for key in self.objects.irange(minimum=begin):
            if not key.startswith(prefix):
                return
            yield key, self.objects[key]

    def has_key_after(self, prefix: bytes, key: bytes) -> bool:
        index = self.objects.bisect_right(key)
        return index < len(self.objects) and self.objects.keys()[index].startswith(prefix)

    def unchanged_since(self, revision: int) -> bool:
        """Whether the objects now are exactly the objects at `revision` (no event of ours after it)."""
        return self.loaded_at <= revision and self.last_change <= revision

    def can_watch_from(self, revision: int) -> bool:
        """Whether every event after `revision` is still in the window."""
        return revision >= self.window_start

    def subscribe(self, prefix: bytes, after: int, trigger: str | None = None) -> CacheWatcher:
        """A watcher of events after `after`: first those in the window, then live ones. `trigger`: the
        value of this resource's indexed field the watcher selects (None: it gets every event)."""
        watcher = CacheWatcher(prefix, after, trigger=trigger if self.indexed_field else None)
        for key, event in self.events:
            if event.revision > after and key.startswith(prefix) and self.wants(watcher, event):
                watcher.queue.put_nowait(event)
        if watcher.trigger is None:
            self._unindexed.add(watcher)
        else:
            self._by_trigger.setdefault(watcher.trigger, set()).add(watcher)
        return watcher

    def unsubscribe(self, watcher: CacheWatcher) -> None:
        self._unindexed.discard(watcher)
        if watcher.trigger is not None:
            group = self._by_trigger.get(watcher.trigger)
            if group is not None:
                group.discard(watcher)
                if not group:
                    del self._by_trigger[watcher.trigger]

    def _drop(self, watcher: CacheWatcher) -> None:
        self.unsubscribe(watcher)
        watcher.closed = True
        watcher.queue.put_nowait(None)

    @property
    def watcher_count(self) -> int:
        return len(self._unindexed) + sum(len(group) for group in self._by_trigger.values())
