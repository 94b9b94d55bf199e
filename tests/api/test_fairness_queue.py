"""The fair queue and the watch cap on their own: seats, per-user queues served round robin,
refusals with Kubernetes' 429, priority levels, watches counted per user and in total."""

from __future__ import annotations

import asyncio

import pytest

from raftkube.api.auth import User
from raftkube.api.errors import APIError
from raftkube.api.fairness import TOO_MANY, Fairness, FairnessConfig, FairQueue, is_long_running

ALICE, FLOOD = User("alice", "a"), User("flood", "f")
ADMIN, NODE = User("admin", "x", ("system:masters",)), User("system:node:n1", "n", ("system:nodes",))


async def test_a_full_queue_seats_users_in_turn_not_in_arrival_order() -> None:
    queue = FairQueue("level", limit=1, queue_length=10, queue_wait=30)
    await queue.acquire("flood")  # the one seat
    order: list[str] = []

    async def request(user: str, tag: str) -> None:
        await queue.acquire(user)
        order.append(tag)
    waiting = [asyncio.create_task(request("flood", f"flood{i}")) for i in range(3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(request("alice", "alice")))
    await asyncio.sleep(0)
    assert queue.queued == 4 and queue.seated == 1
    for _ in range(4):
        queue.release()
        await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    assert order == ["flood0", "alice", "flood1", "flood2"]  # alice's one request went second, not last


async def test_a_users_full_queue_is_refused_with_429_while_another_user_still_queues() -> None:
    queue = FairQueue("priority level 'workload' (read-only)", limit=1, queue_length=1, queue_wait=30)
    await queue.acquire("flood")
    first = asyncio.create_task(queue.acquire("flood"))
    await asyncio.sleep(0)
    with pytest.raises(APIError) as refused:
        await queue.acquire("flood")
    err = refused.value
    assert (err.code, err.reason, err.message, err.retry_after) == (429, "TooManyRequests", TOO_MANY, 1)
    assert "queued" in err.causes[0].message and "flood" in err.causes[0].message
    alice = asyncio.create_task(queue.acquire("alice"))
    await asyncio.sleep(0)
    queue.release()
    queue.release()
    await asyncio.gather(first, alice)
    assert queue.seated == 1  # flood's queued request, then alice's: one seat still held by alice


async def test_waiting_too_long_is_refused_and_leaves_no_seat_behind() -> None:
    queue = FairQueue("level", limit=1, queue_length=5, queue_wait=0.01)
    await queue.acquire("flood")
    with pytest.raises(APIError, match="Too many requests"):
        await queue.acquire("alice")
    assert queue.queued == 0
    queue.release()
    assert queue.seated == 0
    await queue.acquire("alice")  # the seat is free again


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    queue = FairQueue("level", limit=1, queue_length=5, queue_wait=30)
    await queue.acquire("flood")
    gone = asyncio.create_task(queue.acquire("alice"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    queue.release()
    assert queue.seated == 0 and queue.queued == 0


async def test_priority_levels_exempt_masters_and_separate_nodes_from_workloads() -> None:
    fairness = Fairness(FairnessConfig(max_requests_inflight=4, max_mutating_requests_inflight=4, queue_length=0))
    held = [await fairness.enter(FLOOD, "get", False) for _ in range(3)]  # the workload level's 3 read seats
    with pytest.raises(APIError):
        await fairness.enter(ALICE, "list", False)
    write = await fairness.enter(ALICE, "create", False)  # writes have their own seats
    node = await fairness.enter(NODE, "get", False)  # the system level's seat
    admin = [await fairness.enter(ADMIN, "list", False) for _ in range(50)]  # exempt
    for release in [*held, write, node, *admin]:
        release()
    (await fairness.enter(ALICE, "list", False))()


async def test_limits_of_zero_turn_the_in_flight_limits_off() -> None:
    fairness = Fairness(FairnessConfig(max_requests_inflight=0, max_mutating_requests_inflight=0))
    held = [await fairness.enter(FLOOD, "get", False) for _ in range(1000)]
    assert len(held) == 1000


async def test_watches_are_capped_per_user_and_in_total() -> None:
    fairness = Fairness(FairnessConfig(max_watches=4, max_watches_per_user=2))
    bob = [await fairness.enter(FLOOD, "watch", True) for _ in range(2)]
    with pytest.raises(APIError) as refused:
        await fairness.enter(FLOOD, "watch", True)
    assert refused.value.code == 429 and "per user" in refused.value.causes[0].message
    admin = [await fairness.enter(ADMIN, "watch", True) for _ in range(2)]  # over 2: masters have no per-user cap
    with pytest.raises(APIError, match="Too many") as full:
        await fairness.enter(ALICE, "watch", True)
    assert "--max-watches" in full.value.causes[0].message
    bob[0]()
    bob[0]()  # closing twice counts once
    alice = await fairness.enter(ALICE, "watch", True)
    assert fairness.watches == 4
    for close in [bob[1], *admin, alice]:
        close()
    assert fairness.watches == 0


@pytest.mark.parametrize("verb, subresource, query, expected", [
    ("watch", "", {}, True), ("list", "", {}, False), ("get", "log", {"follow": "true"}, True),
    ("get", "log", {}, False), ("create", "exec", {}, True), ("get", "status", {}, False)])
def test_long_running_requests(verb: str, subresource: str, query: dict[str, str], expected: bool) -> None:
    assert is_long_running(verb, subresource, query) is expected
