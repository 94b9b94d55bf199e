"""Controller-manager failover on a real 3-replica control plane (tests/control/failover/conftest.py): the leader is
killed mid-rollout and the next one finishes it within the rollout's bounds."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from raftkube.control.podutil import is_ready
from raftkube.local.control_plane import LocalControlPlane
from tests.control.failover.cluster_access import (
    DEPLOYMENT,
    MAX_SURGE,
    MAX_UNAVAILABLE,
    V1,
    V2,
    Flapped,
    client_for,
    eventually,
    replica_index,
    stable_holder,
    with_retries,
)
from tests.control.failover.observers import (
    LeaseHistory,
    PodWatcher,
    check_converged,
    deployment,
    image_of,
    node_farm,
    rolled_out,
    set_image,
)

pytestmark = pytest.mark.timeout(150)


# ---------------------------------------------------------------------------------------- the tests
@pytest.mark.cluster
async def test_leader_killed_mid_rollout_the_next_one_finishes_it_within_bounds(plane: LocalControlPlane) -> None:
    await with_retries(lambda ns: kill_mid_rollout(plane, ns), "kill")


async def kill_mid_rollout(plane: LocalControlPlane, ns: str) -> None:
    replicas = 10
    leader = await stable_holder(plane)
    victim = replica_index(plane, leader)
    api = client_for(plane, avoid=victim)
    history = LeaseHistory(api)
    watcher = PodWatcher(api, ns)
    killed = False
    try:
        await history.start()
        async with node_farm(api, ns, 4) as (_, kubelet):
            await watcher.start()
            await api.create(DEPLOYMENT, deployment(ns, "web", replicas), ns)
            await rolled_out(api, ns, "web", 1)
            watcher.bounds = (replicas + MAX_SURGE, replicas - MAX_UNAVAILABLE)

            # mid-rollout: four v2 pods start, the others stay pending on their nodes until the kill
            kubelet.hold = (V2, 4)
            generation = await set_image(api, ns, "web", V2)

            async def middle() -> bool:
                pods = watcher.active()
                return (sum(1 for p in pods if image_of(p) == V2 and is_ready(p)) >= 4
                        and sum(1 for p in pods if image_of(p) == V1) >= 1)
            await eventually(middle, "four v2 pods ready while v1 pods remain")
            if history.holder != leader:
                history.handovers()  # the natural handovers must be sound too
                raise Flapped(f"the Lease moved from {leader} to {history.holder} before the kill")
            before = Counter(image_of(p) for p in watcher.active())
            killed_at = time.monotonic()
            killed = True
            await asyncio.to_thread(plane.kill, victim)
            kubelet.release()

            takeover = await history.wait(lambda r: r.holder not in ("", leader), "a new Lease holder")
            first = await eventually(lambda: next((a for a in watcher.actions if a.revision > takeover.revision),
                                                  None), "the new leader's first pod create/delete")
            d = await rolled_out(api, ns, "web", generation, timeout=90)
            done_at = time.monotonic()
            print(f"\nkill -9 of {leader} mid-rollout (pods {dict(before)}): new holder {takeover.holder} after "
                  f"{takeover.seen_at - killed_at:.2f}s, its first reconcile ({first.verb} {first.name}) after "
                  f"{first.seen_at - killed_at:.2f}s, rollout complete after {done_at - killed_at:.2f}s")

            watcher.bounds = None
            await check_converged(api, watcher, ns, d, V2)
            assert watcher.samples and not watcher.violations, watcher.violations[:5]
            most = max(total for total, _ in watcher.samples)
            least = min(ready for _, ready in watcher.samples)
            print(f"  {len(watcher.samples)} samples: at most {most} active pods (bound {replicas + MAX_SURGE}), "
                  f"at least {least} ready (bound {replicas - MAX_UNAVAILABLE}); informer lists "
                  f"{watcher.informer.relists}")
            assert watcher.informer.relists == 1, "the pod watch broke: some states were not sampled"
            handovers = history.handovers()
            print("  handovers: " + ", ".join(f"{a.holder}->{b.holder} (gap {gap:.2f}s)" for a, b, gap in handovers))
            assert any(b is takeover and a.holder == leader for a, b, _ in handovers)
    finally:
        await watcher.informer.stop()
        await history.stop()
        await api.close()
        if killed:
            await asyncio.to_thread(plane.start_replica, victim)
            await asyncio.to_thread(plane.wait_healthy, [victim], 60)
