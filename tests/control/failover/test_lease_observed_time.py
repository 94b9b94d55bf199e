"""Leader election alone (fake Lease API): a candidate dates the Lease record from when it saw the
renewal, not from when it asked."""

from __future__ import annotations

import asyncio

import pytest

from raftkube.control.leader_election import ElectionConfig, LeaderElector
from tests.control.failover.cluster_access import (
    CM_LEASE,
)
from tests.control.fake_leases import FakeLeaseApi

pytestmark = pytest.mark.timeout(150)


# ---------------------------------------------------------------------------------------- the election, alone
async def test_a_candidate_counts_the_lease_from_when_it_saw_the_renewal_not_from_when_it_asked() -> None:
    """A candidate whose GET is slow must not date the record it gets back to the start of that GET.

    The holder renews at t=0.75 (its renew started then, so it may act until 1.55) while the
    candidate's GET, started at t=0.2, is in flight; the GET returns the new record at t=0.9.
    The candidate may take over only 1.2 s after it saw that record (t >= 2.1, as client-go's
    observedTime); dating it from t=0.2 lets it lead from t=1.4, while the holder still acts.
    """
    now = [0.0]
    api = FakeLeaseApi()
    holder = LeaderElector(api, ElectionConfig(CM_LEASE, "h"), clock=lambda: now[0])  # type: ignore[arg-type]
    candidate = LeaderElector(api, ElectionConfig(CM_LEASE, "c"), clock=lambda: now[0])  # type: ignore[arg-type]
    assert await holder.try_acquire_or_renew()
    now[0] = 0.1
    assert not await candidate.try_acquire_or_renew()
    now[0] = 0.2
    gate = api.gate = asyncio.Event()
    slow = asyncio.create_task(candidate.try_acquire_or_renew())
    for _ in range(100):
        if api.gate is None:
            break
        await asyncio.sleep(0)  # until the candidate's GET waits at the gate
    assert api.gate is None
    now[0] = 0.4
    assert await holder.try_acquire_or_renew()
    now[0] = 0.75
    assert await holder.try_acquire_or_renew()  # its last renewal: it may act until 0.75 + 0.8 = 1.55
    now[0] = 0.9
    gate.set()
    assert not await slow
    overlaps = []
    for step in range(1, 30):  # the candidate polls every 0.05 s (any poll period shows it) until 2.35
        now[0] = 0.9 + 0.05 * step
        await candidate.try_acquire_or_renew()
        if candidate.is_leader() and holder.is_leader():
            overlaps.append(round(now[0], 2))
    assert candidate.is_leader(), "the candidate never took over the abandoned Lease"
    assert not overlaps, f"holder and candidate both leading at t={overlaps}: the candidate dated the record " \
        "it saw at t=0.9 back to the start of its GET (t=0.2)"
