"""The watch cache's indexed triggers: a pod watcher pinned to `spec.nodeName=X` is handed exactly the
events whose pod is on X now or was before (binding, deletion, replay from the window); unindexed
watchers get every event; other resources are not indexed."""

from __future__ import annotations

import asyncio
from typing import Any

from raftkube.api.resources import find
from raftkube.api.selectors import parse_field_selector
from raftkube.api.storage import WatchEvent
from raftkube.api.watch_cache.reads import _trigger
from raftkube.api.watch_cache.resource_cache import CacheWatcher, ResourceCache

PODS, CONFIGMAPS = find("", "v1", "pods"), find("", "v1", "configmaps")
assert PODS is not None and CONFIGMAPS is not None
Obj = dict[str, Any]


def pod(name: str, node: str | None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "i"}]}
    if node is not None:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def key(name: str) -> bytes:
    return PODS.storage_prefix("ns") + name.encode()


def drained(watcher: CacheWatcher) -> list[tuple[str, str, int]]:
    out = []
    while not watcher.queue.empty():
        event = watcher.queue.get_nowait()
        assert event is not None and event.object is not None
        out.append((event.type, event.object["metadata"]["name"], event.revision))
    return out


def history() -> list[tuple[bytes, WatchEvent]]:
    """Pending pod a, bound to n1; b created on n2; a deleted from n1; c moved (as no real pod can) n2 → n1."""
    a0, a1, b, c0, c1 = pod("a", None), pod("a", "n1"), pod("b", "n2"), pod("c", "n2"), pod("c", "n1")
    return [(key("a"), WatchEvent("ADDED", a0, None, 2)), (key("a"), WatchEvent("MODIFIED", a1, a0, 3)),
            (key("b"), WatchEvent("ADDED", b, None, 4)), (key("a"), WatchEvent("DELETED", a1, a1, 5)),
            (key("c"), WatchEvent("ADDED", c0, None, 6)), (key("c"), WatchEvent("MODIFIED", c1, c0, 7))]


EXPECTED = {
    "n1": [("MODIFIED", "a", 3), ("DELETED", "a", 5), ("MODIFIED", "c", 7)],
    "n2": [("ADDED", "b", 4), ("ADDED", "c", 6), ("MODIFIED", "c", 7)],
    "": [("ADDED", "a", 2), ("MODIFIED", "a", 3)],  # spec.nodeName= : the unscheduled pods' watch
    None: [("ADDED", "a", 2), ("MODIFIED", "a", 3), ("ADDED", "b", 4), ("DELETED", "a", 5), ("ADDED", "c", 6),
           ("MODIFIED", "c", 7)],
}


def test_live_events_go_to_the_watchers_of_the_old_and_new_node() -> None:
    async def scenario() -> None:
        cache = ResourceCache(PODS)
        cache.load([], 1)
        watchers = {t: cache.subscribe(PODS.storage_prefix(None), 1, t) for t in EXPECTED}
        for k, event in history():
            cache.apply(k, event)
        assert {t: drained(w) for t, w in watchers.items()} == EXPECTED
        for watcher in watchers.values():
            cache.unsubscribe(watcher)
        assert cache.watcher_count == 0 and not cache._by_trigger
    asyncio.run(scenario())


def test_a_watch_from_the_window_replays_only_its_node() -> None:
    async def scenario() -> None:
        cache = ResourceCache(PODS)
        cache.load([], 1)
        for k, event in history():
            cache.apply(k, event)
        replayed = {t: drained(cache.subscribe(PODS.storage_prefix(None), 1, t)) for t in EXPECTED}
        assert replayed == EXPECTED
        late = cache.subscribe(PODS.storage_prefix(None), 4, "n1")  # after revision 4 only
        assert drained(late) == [("DELETED", "a", 5), ("MODIFIED", "c", 7)]
    asyncio.run(scenario())


def test_only_a_positive_node_name_requirement_indexes_a_watch() -> None:
    field = "spec.nodeName"
    assert _trigger(parse_field_selector("spec.nodeName=n1,status.phase!=Failed", "Pod"), field) == "n1"
    assert _trigger(parse_field_selector("spec.nodeName!=n1", "Pod"), field) is None
    assert _trigger(parse_field_selector("spec.nodeName==", "Pod"), field) == ""
    assert _trigger(parse_field_selector("metadata.name=x", "Pod"), field) is None
    assert _trigger(None, field) is None

    async def scenario() -> None:
        configmaps = ResourceCache(CONFIGMAPS)
        assert configmaps.indexed_field is None
        assert configmaps.subscribe(CONFIGMAPS.storage_prefix(None), 0, "n1").trigger is None  # not indexed
    asyncio.run(scenario())
