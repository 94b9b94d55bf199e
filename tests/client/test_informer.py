"""Informer: list+watch into a cache, resume after a broken watch, handler deltas on relist (410), no duplicates."""

from __future__ import annotations

import asyncio
from typing import Any

from raftkube.client import ApiClient, Gone, Informer, RetryPolicy, index_by_labels, index_by_node_name

from .fake_api import FakeApi
from .test_api_client import POD, Sleeps, pod

WAIT = 5.0


class Recorder:
    """Handlers that record (event, name, resourceVersion) and let the test await them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()

    def _note(self, kind: str, obj: dict[str, Any]) -> None:
        item = (kind, obj["metadata"]["name"], obj["metadata"]["resourceVersion"])
        self.seen.append(item)
        self.queue.put_nowait(item)

    def on_add(self, obj: dict[str, Any]) -> None:
        self._note("add", obj)

    async def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        assert old["metadata"]["name"] == new["metadata"]["name"]
        self._note("update", new)

    def on_delete(self, obj: dict[str, Any]) -> None:
        self._note("delete", obj)

    async def next(self, n: int = 1) -> list[tuple[str, str]]:
        out = []
        for _ in range(n):
            kind, name, _ = await asyncio.wait_for(self.queue.get(), WAIT)
            out.append((kind, name))
        return out


class GatedSleep:
    """An injected sleep that blocks until the test lets one sleeper through (and says when one waits)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.passes = asyncio.Semaphore(0)
        self.calls: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.calls.append(delay)
        self.entered.set()
        await self.passes.acquire()

    def release(self) -> None:
        self.entered.clear()
        self.passes.release()


def make(fake: FakeApi, attempts: int = 3, **kw: Any) -> tuple[ApiClient, Informer, Recorder]:
    api = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(),
                    retry=RetryPolicy(max_attempts=attempts, jitter=0))
    informer = Informer(api, POD, **kw)
    rec = Recorder()
    informer.add_handlers(rec.on_add, rec.on_update, rec.on_delete)
    return api, informer, rec


async def test_list_then_watch_fills_cache_indexes_and_handlers() -> None:
    fake = FakeApi()
    fake.seed({**pod("a", app="web"), "spec": {"nodeName": "n1"}})
    fake.seed(pod("b", ns="other"))
    api, informer, rec = make(fake, indexers={"node": index_by_node_name, "labels": index_by_labels})
    informer.start()
    assert await informer.wait_synced(WAIT) and informer.has_synced
    assert sorted(await rec.next(2)) == [("add", "a"), ("add", "b")]
    assert informer.cache.keys() == ["default/a", "other/b"]
    assert [o["metadata"]["name"] for o in informer.cache.by_index("node", "n1")] == ["a"]
    fake.put({**pod("b", ns="other", app="web"), "spec": {"nodeName": "n1"}})
    fake.seed(pod("c"))
    fake.remove("v1", "Pod", "a", "default")
    assert await rec.next(3) == [("update", "b"), ("add", "c"), ("delete", "a")]
    assert informer.cache.index_keys("node", "n1") == ["other/b"]
    assert informer.cache.index_keys("labels", "app=web") == ["other/b"]
    assert informer.cache.get("default/a") is None
    await informer.stop()
    assert fake.open_watches == 0
    await api.close()


async def test_relist_after_410_reports_what_changed_while_away() -> None:
    fake = FakeApi()
    for name in ("a", "b", "keep"):
        fake.seed(pod(name))

    def behind_our_back() -> None:  # runs right after the first list is answered
        fake.remove("v1", "Pod", "b", "default")
        fake.put({**pod("a"), "metadata": {**pod("a")["metadata"], "labels": {"new": "1"}}})
        fake.seed(pod("c"))
        fake.compact()

    fake.after_list = behind_our_back
    api, informer, rec = make(fake)
    informer.start()
    assert sorted(await rec.next(3)) == [("add", "a"), ("add", "b"), ("add", "keep")]
    assert sorted(await rec.next(3)) == [("add", "c"), ("delete", "b"), ("update", "a")]
    assert informer.relists == 2
    assert sorted(informer.cache.keys()) == ["default/a", "default/c", "default/keep"]
    fake.seed(pod("d"))
    assert await rec.next() == [("add", "d")]
    assert len(rec.seen) == len(set(rec.seen))
    await informer.stop()
    await api.close()


async def started_then_cut_off(fake: FakeApi, attempts: int = 3, **kw: Any
                               ) -> tuple[ApiClient, Informer, Recorder, GatedSleep]:
    """An informer on "default" that has synced the seeded pods, then lost every endpoint and its
    watch: it is in its first backoff pause (held by the returned GatedSleep) when this returns."""
    sleep = GatedSleep()
    api, informer, rec = make(fake, attempts=attempts, namespace="default", sleep=sleep, backoff_base=0.5, **kw)
    informer.start()
    seeded = len(fake.objects)
    assert len(await rec.next(seeded)) == seeded
    fake.down.update(fake.hosts)
    fake.break_watches()
    await asyncio.wait_for(sleep.entered.wait(), WAIT)
    return api, informer, rec, sleep


async def a_goes_and_c_comes_while_cut_off(fake: FakeApi) -> tuple[ApiClient, Informer, Recorder, GatedSleep]:
    """Pods a and b synced, then every endpoint lost; meanwhile a is deleted and c created."""
    fake.seed(pod("a"))
    fake.seed(pod("b"))
    api, informer, rec, sleep = await started_then_cut_off(fake)
    fake.remove("v1", "Pod", "a", "default")
    fake.seed(pod("c"))
    return api, informer, rec, sleep


async def test_broken_watch_resumes_from_the_last_version_without_a_relist() -> None:
    fake = FakeApi()
    api, informer, rec, sleep = await a_goes_and_c_comes_while_cut_off(fake)
    fake.down.clear()
    sleep.release()
    # the events of the outage arrive in order through the resumed watch, and nothing is listed again
    assert await rec.next(2) == [("delete", "a"), ("add", "c")]
    assert sleep.calls[0] == 0.5 and informer.relists == 1
    await informer.stop()
    await api.close()


async def test_a_resumed_watch_answered_410_relists() -> None:
    fake = FakeApi()
    api, informer, rec, sleep = await a_goes_and_c_comes_while_cut_off(fake)
    fake.compact()  # the versions the informer would resume from are gone
    fake.down.clear()
    sleep.release()
    await asyncio.wait_for(sleep.entered.wait(), WAIT)  # the resumed watch got 410: a pause, then a list
    assert isinstance(informer.last_error, Gone) and informer.relists == 1
    sleep.release()
    assert sorted(await rec.next(2)) == [("add", "c"), ("delete", "a")]
    assert informer.relists == 2
    await informer.stop()
    await api.close()


async def test_a_watch_that_keeps_failing_to_resume_falls_back_to_a_relist() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    api, informer, rec, sleep = await started_then_cut_off(fake, attempts=1, max_resumes=2)
    sleep.release()
    for _ in range(2):  # two resumes that find every endpoint down
        await asyncio.wait_for(sleep.entered.wait(), WAIT)
        sleep.release()
    await asyncio.wait_for(sleep.entered.wait(), WAIT)  # the third failure: next comes a list
    fake.seed(pod("b"))
    fake.down.clear()
    sleep.release()
    assert await rec.next() == [("add", "b")]
    assert informer.relists == 2 and len(sleep.calls) == 4
    await informer.stop()
    await api.close()


async def test_replayed_events_are_not_delivered_twice() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    api, informer, rec = make(fake)
    informer.start()
    assert await rec.next() == [("add", "a")]
    fake.seed(pod("b"))
    fake.put({**pod("a"), "metadata": {**pod("a")["metadata"], "labels": {"v": "2"}}})
    assert await rec.next(2) == [("add", "b"), ("update", "a")]
    fake.watch_rewind = 2  # the next watch re-sends the last two events (at-least-once delivery)
    fake.end_watches()
    fake.seed(pod("c"))
    assert await rec.next() == [("add", "c")]
    rewound = [q for _, _, _, q in fake.requests if q.get("watch")]
    assert len(rewound) >= 2
    assert len(rec.seen) == len(set(rec.seen)) == 4
    await informer.stop()
    await api.close()


async def test_late_handler_gets_replay_and_failing_handler_does_not_stop_informer() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    api, informer, rec = make(fake)

    def boom(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    informer.add_handlers(on_add=boom)
    informer.start()
    await informer.wait_synced(WAIT)
    assert await rec.next() == [("add", "a")]
    late = Recorder()
    informer.add_handlers(late.on_add, late.on_update, late.on_delete)
    assert await late.next() == [("add", "a")]
    fake.seed(pod("b"))
    assert await rec.next() == [("add", "b")]
    assert await late.next() == [("add", "b")]
    await informer.resync()
    assert sorted(await late.next(2)) == [("update", "a"), ("update", "b")]
    await informer.stop()
    await api.close()


async def test_periodic_resync_hands_cached_objects_to_on_update() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    sleep = GatedSleep()
    api = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps())
    informer = Informer(api, POD, resync_period=30.0, sleep=sleep)
    rec = Recorder()
    informer.add_handlers(rec.on_add, rec.on_update, rec.on_delete)
    informer.start()
    assert await rec.next() == [("add", "a")]
    await asyncio.wait_for(sleep.entered.wait(), WAIT)
    assert sleep.calls == [30.0]
    sleep.release()
    assert await rec.next() == [("update", "a")]
    await informer.stop()
    await api.close()


async def test_a_stuck_handler_delays_only_itself() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    api, informer, rec = make(fake)
    release = asyncio.Event()
    stuck_saw: list[str] = []

    async def stuck(obj: dict[str, Any]) -> None:
        stuck_saw.append(obj["metadata"]["name"])
        await release.wait()

    informer.add_handlers(on_add=stuck)
    informer.start()
    assert await rec.next() == [("add", "a")]
    fake.seed(pod("b"))
    fake.seed(pod("c"))
    assert await rec.next(2) == [("add", "b"), ("add", "c")]  # while the other handler is still on "a"
    assert stuck_saw == ["a"] and informer.cache.get("default/c") is not None
    assert not await informer.wait_synced(0.05)  # the stuck handler has not been handed the first list yet
    release.set()
    assert await informer.wait_synced(WAIT)
    for _ in range(100):  # bounded: the released handler catches up, in order
        if len(stuck_saw) == 3:
            break
        await asyncio.sleep(0.01)
    assert stuck_saw == ["a", "b", "c"]
    await informer.stop()
    await api.close()
