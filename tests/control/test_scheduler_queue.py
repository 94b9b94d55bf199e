"""The scheduling queue (priority order, backoff, unschedulable pods, what moves them) and the bind window."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from raftkube.control.scheduler.queue import QueueClosed, SchedulingQueue, spec_changed
from raftkube.control.scheduler.window import BindWindow

Obj = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pod(name: str, priority: int = 0, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"priority": priority, **spec}}


def make() -> tuple[SchedulingQueue, Clock]:
    clock = Clock()
    return SchedulingQueue(clock, initial_backoff=1.0, max_backoff=8.0, unschedulable_timeout=60.0), clock


def names(queue: SchedulingQueue) -> list[str]:
    out = []
    for _ in range(100):
        queued = queue.pop_nowait()
        if queued is None:
            return out
        out.append(queued.key)
    raise AssertionError("queue never emptied")


def test_higher_priority_first_then_arrival_order_and_each_pod_once() -> None:
    queue, _ = make()
    for name, priority in (("a", 0), ("b", 10), ("c", 0), ("d", 10)):
        queue.add(pod(name, priority))
    queue.add(pod("a"))
    assert names(queue) == ["ns/b", "ns/d", "ns/a", "ns/c"]
    assert queue.in_flight == 4


def test_an_update_while_in_flight_replaces_the_object_without_requeueing() -> None:
    queue, _ = make()
    queue.add(pod("a"))
    first = queue.pop_nowait()
    assert first is not None
    queue.add(pod("a", nodeSelector={"x": "y"}))
    assert queue.pop_nowait() is None
    assert queue.get("ns/a") is first and first.pod["spec"]["nodeSelector"] == {"x": "y"}


def test_unschedulable_pods_wait_for_a_cluster_change_respecting_backoff() -> None:
    queue, clock = make()
    queue.add(pod("a"))
    assert names(queue) == ["ns/a"]
    queue.mark_unschedulable("ns/a")
    assert queue.unschedulable == 1 and queue.pop_nowait() is None
    clock.now += 0.5
    assert queue.move_all() == 1  # still within its 1 s backoff: goes to backoff, not active
    assert queue.pop_nowait() is None and queue.backing_off == 1
    clock.now += 0.5
    assert names(queue) == ["ns/a"]
    queue.mark_unschedulable("ns/a")
    clock.now += 5  # second attempt: 2 s backoff, long over
    queue.move_all()
    assert names(queue) == ["ns/a"]


def test_move_all_with_a_predicate_moves_only_matching_pods() -> None:
    queue, clock = make()
    queue.add(pod("plain"))
    queue.add(pod("affine", affinity={"podAffinity": {}}))
    names(queue)
    queue.mark_unschedulable("ns/plain")
    queue.mark_unschedulable("ns/affine")
    clock.now += 10
    assert queue.move_all(lambda q: "affinity" in q.pod["spec"]) == 1
    assert names(queue) == ["ns/affine"]
    assert queue.unschedulable == 1


def test_unschedulable_pods_are_retried_after_the_timeout() -> None:
    queue, clock = make()
    queue.add(pod("a"))
    names(queue)
    queue.mark_unschedulable("ns/a")
    clock.now += 59
    assert queue.pop_nowait() is None
    clock.now += 1
    assert names(queue) == ["ns/a"]


def test_a_change_during_the_attempt_sends_the_pod_to_backoff_not_unschedulable() -> None:
    queue, clock = make()
    queue.add(pod("a"))
    names(queue)
    queue.move_all()  # e.g. a node was added while the pod was being decided
    queue.mark_unschedulable("ns/a")
    assert queue.unschedulable == 0 and queue.backing_off == 1
    clock.now += 1
    assert names(queue) == ["ns/a"]


def test_retry_backs_off_exponentially_up_to_the_cap() -> None:
    queue, clock = make()
    queue.add(pod("a"))
    assert names(queue) == ["ns/a"]
    waits = []
    for _ in range(5):
        queue.retry("ns/a")
        start = clock.now
        for _ in range(100):
            if queue.pop_nowait() is not None:
                break
            clock.now += 0.25
        waits.append(clock.now - start)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_delete_and_done_forget_the_pod_everywhere() -> None:
    queue, clock = make()
    for name in ("a", "b", "c"):
        queue.add(pod(name))
    queue.delete("ns/a")
    assert names(queue) == ["ns/b", "ns/c"]
    queue.mark_unschedulable("ns/b")
    queue.retry("ns/c")
    queue.delete("ns/b")
    queue.done("ns/c")
    clock.now += 1000
    queue.move_all()
    assert names(queue) == [] and len(queue) == 0


def test_only_spec_or_label_changes_requeue_an_unschedulable_pod() -> None:
    queue, clock = make()
    queue.add(pod("a"))
    names(queue)
    queue.mark_unschedulable("ns/a")
    clock.now += 10
    status_only = {**pod("a"), "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}
    assert not spec_changed(pod("a"), status_only)
    queue.add(status_only)
    assert queue.pop_nowait() is None
    relabelled = {**status_only, "metadata": {**status_only["metadata"], "labels": {"x": "1"}}}
    queue.add(relabelled)
    assert names(queue) == ["ns/a"]


async def test_pop_waits_for_an_add_and_close_ends_it() -> None:
    queue = SchedulingQueue()
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(pod("a"))
    assert (await asyncio.wait_for(waiter, 5)).key == "ns/a"
    closing = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(closing, 5)


async def test_pop_wakes_when_a_backoff_ends() -> None:
    queue = SchedulingQueue(initial_backoff=0.05)
    queue.add(pod("a"))
    first = await asyncio.wait_for(queue.pop(), 5)
    queue.retry(first.key)
    assert queue.pop_nowait() is None
    assert (await asyncio.wait_for(queue.pop(), 5)).key == "ns/a"


# ------------------------------------------------------------------ the bind window
def test_bind_window_narrows_on_slow_answers_and_widens_on_fast_ones() -> None:
    clock = Clock()
    window = BindWindow(maximum=64, minimum=4, target=0.5, decrease=0.5, clock=clock)
    assert window.limit == 64
    window.observe(2.0)
    window.observe(2.0)  # within one target period: counted once
    assert window.limit == 32
    for _ in range(10):
        clock.now += 1
        window.observe(2.0)
    assert window.limit == 4  # never below the minimum
    for _ in range(200):
        window.observe(0.01)
    assert 4 < window.limit < 64  # additive: about one slot per window's worth of fast answers
    for _ in range(10_000):
        window.observe(0.01)
    assert window.limit == 64


async def test_bind_window_blocks_at_its_limit_until_a_release() -> None:
    window = BindWindow(maximum=2, minimum=1)
    await window.acquire()
    await window.acquire()
    waiter = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    window.release(0.01)
    await asyncio.wait_for(waiter, 5)
    assert window.in_flight == 2
