"""WorkQueue: dedup, re-add while processing, delays on a fake clock, backoff growth, token bucket."""

from __future__ import annotations

import asyncio

import pytest

from raftkube.client.workqueue import (
    ItemExponentialRateLimiter,
    QueueEmpty,
    ShutDown,
    TokenBucketRateLimiter,
    WorkQueue,
    default_rate_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def drain(q: WorkQueue[str]) -> list[str]:
    out = []
    for _ in range(1000):
        try:
            out.append(q.get_nowait())
        except QueueEmpty:
            return out
    raise AssertionError("queue never drained")


def test_key_added_twice_before_processing_is_processed_once_in_order() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    for key in ["a", "b", "a", "c", "b", "a"]:
        q.add(key)
    assert len(q) == 3
    assert drain(q) == ["a", "b", "c"]


def test_readded_while_processing_comes_back_after_done() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    q.add("a")
    assert q.get_nowait() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0 and q.processing() == {"a"}  # never handed to two workers at once
    with pytest.raises(QueueEmpty):
        q.get_nowait()
    q.done("a")
    assert drain(q) == ["a"]
    q.done("a")
    assert drain(q) == []


def test_add_after_waits_for_the_clock_and_keeps_the_earliest_deadline() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add_after("late", 10)
    q.add_after("soon", 2)
    q.add_after("soon", 5)  # a later deadline does not postpone the earlier one
    q.add_after("late", 3)  # an earlier one wins
    assert drain(q) == [] and q.waiting == 2
    clock.advance(2)
    assert drain(q) == ["soon"]
    clock.advance(1)
    assert drain(q) == ["late"]
    clock.advance(100)
    assert drain(q) == [] and q.waiting == 0


def test_item_backoff_grows_exponentially_to_the_cap_and_forget_resets() -> None:
    limiter = ItemExponentialRateLimiter(base=0.005, max_delay=1000)
    delays = [limiter.when("k") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert all(b == min(a * 2, 1000) for a, b in zip(delays, delays[1:], strict=False))
    assert delays[-1] == 1000 and limiter.num_requeues("k") == 20
    assert limiter.when("other") == 0.005
    limiter.forget("k")
    assert limiter.when("k") == 0.005 and limiter.num_requeues("k") == 1


def test_token_bucket_allows_a_burst_then_paces_at_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(qps=10, burst=100, clock=clock)
    delays = [bucket.when(i) for i in range(103)]
    assert delays[:100] == [0.0] * 100
    assert delays[100:] == pytest.approx([0.1, 0.2, 0.3])
    clock.advance(1.0)  # 10 tokens back, 3 were already promised
    assert sum(1 for i in range(7) if bucket.when(i) == 0.0) == 7
    assert bucket.when("x") > 0


def test_rate_limited_adds_on_fake_clock_count_released_items() -> None:
    clock = FakeClock()
    q: WorkQueue[int] = WorkQueue(default_rate_limiter(clock, qps=10, burst=5), clock=clock)
    for i in range(8):
        q.add_rate_limited(i)  # first failure of each: 5 ms, and the bucket paces after 5
    assert len(q) == 0
    clock.advance(0.005)
    got = []
    for _ in range(100):
        try:
            got.append(q.get_nowait())
        except QueueEmpty:
            break
    assert got == [0, 1, 2, 3, 4]
    clock.advance(0.1)
    assert q.get_nowait() == 5
    clock.advance(0.2)
    assert [q.get_nowait(), q.get_nowait()] == [6, 7]
    q.add_rate_limited(0)
    q.add_rate_limited(0)
    assert q.num_requeues(0) == 3
    q.forget(0)
    assert q.num_requeues(0) == 0


async def test_async_get_waits_for_add_and_shutdown_drains_first() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 5) == "x"
    q.add("y")
    q.shutdown()
    q.add("z")  # ignored once shutting down
    assert await q.get() == "y"
    with pytest.raises(ShutDown):
        await q.get()


async def test_shutdown_wakes_a_waiting_worker() -> None:
    q: WorkQueue[str] = WorkQueue()
    worker = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(worker, 5)


async def test_workers_process_each_key_once_per_add_cycle() -> None:
    q: WorkQueue[str] = WorkQueue()
    processed: list[str] = []
    release = asyncio.Event()

    async def worker() -> None:
        for _ in range(100):
            try:
                key = await q.get()
            except ShutDown:
                return
            processed.append(key)
            if key == "a" and processed.count("a") == 1:
                await release.wait()
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(3)]
    q.add("a")
    for _ in range(50):
        await asyncio.sleep(0)
        if processed:
            break
    q.add("a")  # while a worker holds "a": no second concurrent "a"
    q.add("b")
    for _ in range(50):
        await asyncio.sleep(0)
        if "b" in processed:
            break
    assert processed == ["a", "b"]
    release.set()
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 5)
    assert processed == ["a", "b", "a"]
