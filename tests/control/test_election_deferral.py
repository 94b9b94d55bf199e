"""`defer_while`: a candidate on the store's Raft leader leaves a free or expired Lease to the
other candidates for `defer_for` seconds, takes it when no one else does, and never gives up a
Lease it holds. Driven step by step on a fake clock over an in-memory Lease API.
"""

from __future__ import annotations

from raftkube.control.leader_election import ElectionConfig, LeaderElector
from tests.control.fake_leases import FakeLeaseApi


def elector(api: FakeLeaseApi, identity: str, now: list[float], deferring: list[bool] | None = None
            ) -> LeaderElector:
    defer = None if deferring is None else (lambda: deferring[0])
    return LeaderElector(api, ElectionConfig("l", identity, defer_while=defer, defer_for=0.4),  # type: ignore[arg-type]
                         clock=lambda: now[0])


async def released_lease(api: FakeLeaseApi, now: list[float]) -> None:
    first = elector(api, "first", now)
    assert await first.try_acquire_or_renew()
    await first.release()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == ""


async def test_a_deferring_candidate_leaves_a_released_lease_to_another() -> None:
    now, api = [0.0], FakeLeaseApi()
    await released_lease(api, now)
    on_raft_leader = elector(api, "raft-leader", now, deferring=[True])
    follower = elector(api, "follower", now)
    assert not await on_raft_leader.try_acquire_or_renew()
    now[0] = 0.2
    assert not await on_raft_leader.try_acquire_or_renew()
    assert await follower.try_acquire_or_renew()
    now[0] = 1.0  # long past defer_for: the follower holds it, renewed
    assert await follower.try_acquire_or_renew()
    assert not await on_raft_leader.try_acquire_or_renew()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "follower"
    assert follower.is_leader() and not on_raft_leader.is_leader()


async def test_a_deferring_candidate_leaves_creating_the_lease_to_another() -> None:
    now, api = [0.0], FakeLeaseApi()  # start-up: no Lease yet
    on_raft_leader = elector(api, "raft-leader", now, deferring=[True])
    follower = elector(api, "follower", now)
    assert not await on_raft_leader.try_acquire_or_renew()
    assert api.lease is None
    now[0] = 0.2
    assert await follower.try_acquire_or_renew()
    now[0] = 0.6
    assert not await on_raft_leader.try_acquire_or_renew()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "follower"


async def test_a_deferring_candidate_creates_the_lease_when_no_one_else_does() -> None:
    now, api = [0.0], FakeLeaseApi()
    alone = elector(api, "raft-leader", now, deferring=[True])
    assert not await alone.try_acquire_or_renew()
    now[0] = 0.3
    assert not await alone.try_acquire_or_renew()
    now[0] = 0.4
    assert await alone.try_acquire_or_renew()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "raft-leader"


async def test_a_deferring_candidate_takes_a_lease_no_one_else_takes() -> None:
    now, api = [0.0], FakeLeaseApi()
    await released_lease(api, now)
    alone = elector(api, "raft-leader", now, deferring=[True])
    taken_at = None
    for step in range(10):
        now[0] = 0.1 * step
        if await alone.try_acquire_or_renew():
            taken_at = now[0]
            break
    assert taken_at is not None and 0.4 <= taken_at < 0.5


async def test_an_expired_lease_waits_defer_for_beyond_its_duration() -> None:
    now, api = [0.0], FakeLeaseApi()
    dead = elector(api, "dead", now)
    assert await dead.try_acquire_or_renew()  # then it never renews again
    deferring = elector(api, "raft-leader", now, deferring=[True])
    normal = elector(api, "other", now)
    assert not await deferring.try_acquire_or_renew() and not await normal.try_acquire_or_renew()
    now[0] = 1.3  # past the 1.2 s duration: the other candidate could take it now
    assert not await deferring.try_acquire_or_renew()
    now[0] = 1.7  # 1.2 + 0.4
    assert await deferring.try_acquire_or_renew()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "raft-leader"


async def test_a_holder_that_becomes_raft_leader_keeps_its_lease() -> None:
    now, api, deferring = [0.0], FakeLeaseApi(), [False]
    holder = elector(api, "holder", now, deferring)
    assert await holder.try_acquire_or_renew()
    deferring[0] = True
    for step in range(1, 6):
        now[0] = 0.2 * step
        assert await holder.try_acquire_or_renew() and holder.is_leader()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "holder"
