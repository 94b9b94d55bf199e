"""Watches through the watch cache: the same events as the store's watch from a revision in the
window, the store's watch (and its 410 Expired) for an older one, namespaces, idle bookmarks; list
options: resourceVersionMatch validation, Exact from the store, a too large resourceVersion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from raftkube.api.errors import APIError
from raftkube.api.storage import WatchEvent
from raftkube.api.watch_cache import check_list_options
from tests.api.watch_cache.conftest import CONFIGMAPS, CacheWorld


async def take(events: AsyncIterator[WatchEvent], n: int, skip_bookmarks: bool = True) -> list[tuple]:
    got: list[tuple] = []
    async with asyncio.timeout(20):
        async for event in events:
            if event.type == "BOOKMARK" and skip_bookmarks:
                continue
            obj = event.object or {}
            got.append((event.type, obj.get("metadata", {}).get("namespace"), obj.get("metadata", {}).get("name"),
                        event.revision))
            if len(got) >= n:
                break
    return got


def test_watch_from_the_window_equals_the_store_watch(world: CacheWorld) -> None:
    async def scenario() -> None:
        assert await world.cache.cache_for(CONFIGMAPS, 10) is not None
        start = await world.revision() + 1
        await world.put("w1", "a", {})
        await world.put("w1", "a", {"app": "x"})
        await world.put("w2", "b", {})
        await world.delete("w1", "a")
        cache = await world.cache.cache_for(CONFIGMAPS, 10)
        assert cache is not None and cache.can_watch_from(start - 1)
        from_cache = await take(world.cached.watch(CONFIGMAPS, None, start), 4)
        from_store = await take(world.direct.watch(CONFIGMAPS, None, start), 4)
        assert from_cache == from_store
        assert [e[0] for e in from_cache] == ["ADDED", "MODIFIED", "ADDED", "DELETED"]
        only_w2 = await take(world.cached.watch(CONFIGMAPS, "w2", start), 1)
        assert only_w2 == [e for e in from_store if e[1] == "w2"]
    world.run(scenario())


def test_live_events_reach_a_cache_watcher(world: CacheWorld) -> None:
    async def scenario() -> None:
        assert await world.cache.cache_for(CONFIGMAPS, 10) is not None
        start = await world.revision() + 1
        watch = world.cached.watch(CONFIGMAPS, "live", start)
        pending = asyncio.ensure_future(take(watch, 2))
        await world.put("other", "x", {})
        revision = await world.put("live", "x", {})
        await world.put("live", "y", {})
        got = await pending
        assert [(e[2], e[0]) for e in got] == [("x", "ADDED"), ("y", "ADDED")] and got[0][3] == revision
    world.run(scenario())


def test_a_watch_older_than_the_window_goes_to_the_store_and_410_once_compacted(world: CacheWorld) -> None:
    async def scenario() -> None:
        cache = await world.cache.cache_for(CONFIGMAPS, 10)
        assert cache is not None
        start = await world.revision() + 1
        for i in range(60):  # the test cache keeps 50 events
            await world.put("old", f"o{i % 7}", {})
        assert not cache.can_watch_from(start - 1)
        from_cache = await take(world.cached.watch(CONFIGMAPS, "old", start), 60)
        assert from_cache == await take(world.direct.watch(CONFIGMAPS, "old", start), 60)
        await world.storage.store.compact(start + 10)
        with pytest.raises(APIError) as err:
            await take(world.cached.watch(CONFIGMAPS, "old", start), 1)
        assert err.value.code == 410
    world.run(scenario())


def test_a_watch_inside_the_window_but_compacted_in_the_store_gets_410(world: CacheWorld) -> None:
    async def scenario() -> None:
        cache = await world.cache.cache_for(CONFIGMAPS, 10)
        assert cache is not None
        start = await world.revision() + 1
        for i in range(3):
            await world.put("compacted", f"c{i}", {})
        assert cache.can_watch_from(start - 1)  # the window still holds every event after start
        assert len(await take(world.cached.watch(CONFIGMAPS, "compacted", start), 3)) == 3
        await world.storage.store.compact(await world.revision())
        with pytest.raises(APIError) as err:  # as without a cache: the client relists
            await take(world.cached.watch(CONFIGMAPS, "compacted", start), 1)
        assert err.value.code == 410
    world.run(scenario())


def test_an_idle_cache_watch_gets_bookmarks(world: CacheWorld) -> None:
    async def scenario() -> None:
        assert await world.cache.cache_for(CONFIGMAPS, 10) is not None
        current = await world.revision()
        [bookmark] = await take(world.cached.watch(CONFIGMAPS, "idle", current + 1), 1, skip_bookmarks=False)
        assert bookmark[0] == "BOOKMARK" and bookmark[3] >= current
    world.run(scenario())


def test_exact_and_too_large_resource_versions(world: CacheWorld) -> None:
    async def scenario() -> None:
        first = await world.put("exact", "e", {"app": "x"})
        await world.put("exact", "e", {"app": "y"})
        then = await world.cached.list(CONFIGMAPS, "exact", resource_version=str(first), match="Exact")
        assert then.resource_version == first
        assert [o["metadata"]["labels"] for o in then.items] == [{"app": "x"}]
        now = await world.cached.list(CONFIGMAPS, "exact")
        assert [o["metadata"]["labels"] for o in now.items] == [{"app": "y"}]
        too_large = str(await world.revision() + 1000)
        for match in ("NotOlderThan", "Exact"):
            with pytest.raises(APIError) as err:
                await world.cached.list(CONFIGMAPS, "exact", resource_version=too_large, match=match)
            assert err.value.code == 504 and "Too large resource version" in err.value.message
    world.run(scenario())


@pytest.mark.parametrize(("rv", "match", "watch", "message"), [
    ("", "NotOlderThan", False, "resourceVersionMatch is forbidden unless resourceVersion is provided"),
    ("0", "Exact", False, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
    ("5", "Newest", False, 'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan"'),
    ("5", "Exact", True, "resourceVersionMatch is forbidden for watch"),
])
def test_list_options_are_validated_as_kubernetes_does(rv: str, match: str, watch: bool, message: str) -> None:
    with pytest.raises(APIError) as err:
        check_list_options(rv, match, watch)
    assert err.value.code == 422 and err.value.reason == "Invalid"
    assert message in err.value.message and err.value.causes[0].field == "resourceVersionMatch"
    check_list_options(rv or "7", "NotOlderThan", False)  # a valid pair passes
