"""The watch hub alone: backlog then live events with no gap or duplicate, filters, bounds, progress."""

from __future__ import annotations

import asyncio

import pytest

from raftkube.store.errors import CompactedError, WatchCancelled
from raftkube.store.mvcc import KVStateMachine
from raftkube.store.types import Event
from raftkube.store.watch_hub import Watcher, WatchHub


def make(sm: KVStateMachine, max_pending: int = 100) -> WatchHub:
    return WatchHub(lambda start, key, end: sm.events_since(start, key, end),
                    lambda since: ([] if since <= 0 else sm.events_since(since, b"\0", b"\0"), sm.revision),
                    sm.revision, max_pending_events=max_pending)


def write(sm: KVStateMachine, hub: WatchHub | None, key: bytes, value: bytes = b"v") -> list[Event]:
    events = sm.apply({"t": "txn", "ok": [["put", key, value, 0, False]]}).events
    if hub is not None:
        hub.publish(events)
    return events


def drain(watcher: Watcher) -> list[tuple[bytes, int]]:
    out = []
    while not watcher.queue.empty():
        item = watcher.queue.get_nowait()
        assert not isinstance(item, Exception)
        out += [(e.kv.key, e.revision) for e in item.events]
    return out


async def test_backlog_then_live_without_gap_or_duplicate() -> None:
    sm = KVStateMachine()
    hub = make(sm)
    for i in range(3):
        write(sm, hub, b"a/%d" % i)
    pending = write(sm, None, b"a/late")  # applied, not yet delivered to the hub
    watcher = hub.watch(b"a/", b"a0", start_revision=2)
    hub.publish(pending)
    hub.publish(pending)  # a repeated delivery is ignored
    write(sm, hub, b"b")  # outside the range
    write(sm, hub, b"a/next")
    assert drain(watcher) == [(b"a/0", 2), (b"a/1", 3), (b"a/2", 4), (b"a/late", 5), (b"a/next", 7)]


async def test_future_start_revision_waits_for_it() -> None:
    sm = KVStateMachine()
    hub = make(sm)
    watcher = hub.watch(b"k", start_revision=4)
    for _ in range(4):
        write(sm, hub, b"k")
    assert [rev for _, rev in drain(watcher)] == [4, 5]


async def test_compacted_start_revision_is_refused_with_oldest_revision() -> None:
    sm = KVStateMachine()
    hub = make(sm)
    for _ in range(5):
        write(sm, hub, b"k")
    sm.apply({"t": "compact", "rev": 4})
    with pytest.raises(CompactedError) as info:
        hub.watch(b"k", start_revision=3)
    assert info.value.compact_revision == 4


async def test_slow_watcher_is_cut_off_with_resume_revision() -> None:
    sm = KVStateMachine()
    hub = make(sm, max_pending=3)
    watcher = hub.watch(b"k")
    for _ in range(5):
        write(sm, hub, b"k")
    received = []
    with pytest.raises(WatchCancelled) as info:
        async for response in watcher:
            received += [e.revision for e in response.events]
    assert received == [2, 3, 4]
    assert info.value.details["resume_revision"] == 5
    assert hub.watcher_count == 0


async def test_progress_only_for_idle_watchers_and_prev_kv_only_on_request() -> None:
    sm = KVStateMachine()
    hub = make(sm)
    busy, idle = hub.watch(b"k", prev_kv=True), hub.watch(b"other")
    write(sm, hub, b"k", b"1")
    write(sm, hub, b"k", b"2")
    hub.send_progress()
    first = await asyncio.wait_for(busy.__anext__(), 1)
    second = await asyncio.wait_for(busy.__anext__(), 1)
    assert first.events[0].prev_kv is None and second.events[0].prev_kv is not None
    assert second.events[0].prev_kv.value == b"1"
    progress = await asyncio.wait_for(idle.__anext__(), 1)
    assert progress.progress and progress.revision == 3 and busy.queue.empty()


async def test_resync_after_snapshot_delivers_missing_events_or_cancels() -> None:
    sm = KVStateMachine()
    hub = make(sm)
    watcher = hub.watch(b"k")
    for _ in range(3):
        write(sm, None, b"k")  # as if installed by a snapshot: applied, never published
    hub.resync()
    assert [rev for _, rev in drain(watcher)] == [2, 3, 4]
    write(sm, None, b"k")
    write(sm, None, b"k")
    sm.apply({"t": "compact", "rev": 6})  # revision 5 is gone: the watcher cannot be served
    hub.resync()
    with pytest.raises(CompactedError):
        await asyncio.wait_for(watcher.__anext__(), 1)
    assert hub.revision == 6
