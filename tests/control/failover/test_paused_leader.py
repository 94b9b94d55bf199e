"""Controller-manager failover on a real 3-replica control plane (tests/control/failover/conftest.py): a paused
leader is replaced and does not act when it resumes."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from raftkube.local.control_plane import LocalControlPlane
from tests.control.failover.cluster_access import (
    CM_LEASE,
    DEPLOYMENT,
    MAX_SURGE,
    MAX_UNAVAILABLE,
    PAUSE,
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
    log_since,
    log_size,
    node_farm,
    pod_creators,
    rolled_out,
    set_image,
)

pytestmark = pytest.mark.timeout(150)


@pytest.mark.cluster
async def test_paused_leader_is_replaced_and_does_not_act_when_resumed(plane: LocalControlPlane) -> None:
    await with_retries(lambda ns: pause_leader(plane, ns), "pause")


async def pause_leader(plane: LocalControlPlane, ns: str) -> None:
    replicas = 6
    leader = await stable_holder(plane)
    victim = replica_index(plane, leader)
    api = client_for(plane, avoid=victim)
    history = LeaseHistory(api)
    watcher = PodWatcher(api, ns)
    paused = False
    try:
        await history.start()
        async with node_farm(api, ns, 3):
            await watcher.start()
            await api.create(DEPLOYMENT, deployment(ns, "app", replicas), ns)
            await rolled_out(api, ns, "app", 1)
            watcher.bounds = (replicas + MAX_SURGE, replicas - MAX_UNAVAILABLE)
            if history.holder != leader:
                history.handovers()
                raise Flapped(f"the Lease moved from {leader} to {history.holder} before the pause")
            offset = log_size(plane, victim)

            stopped_at = time.monotonic()
            plane.signal(victim, signal.SIGSTOP)
            paused = True
            generation = await set_image(api, ns, "app", V2)  # work that only a live leader can do
            takeover = await history.wait(lambda r: r.holder not in ("", leader), "a new Lease holder")
            await asyncio.sleep(max(0.0, stopped_at + PAUSE - time.monotonic()))  # the fault's length, not a wait
            plane.signal(victim, signal.SIGCONT)
            paused = False
            resumed_at = time.monotonic()
            d = await rolled_out(api, ns, "app", generation, timeout=90)
            first = next((a for a in watcher.actions if a.revision > takeover.revision), None)
            print(f"\nSIGSTOP of {leader} for {resumed_at - stopped_at:.2f}s: new holder {takeover.holder} after "
                  f"{takeover.seen_at - stopped_at:.2f}s, its first reconcile after "
                  f"{(first.seen_at - stopped_at) if first else float('nan'):.2f}s, rollout complete "
                  f"{time.monotonic() - resumed_at:.2f}s after SIGCONT")

            # the resumed process found out it had lost the Lease, and stepped down
            stepped_down = f"{leader}: stopped leading {CM_LEASE}"
            await eventually(lambda: stepped_down in log_since(plane, victim, offset),
                             f"'{stepped_down}' in {leader}'s log after SIGCONT")
            # one holder at a time: every change of holder waited out the old holder's renew deadline,
            # and the resumed process never renewed (a stale conditional renewal would show up here)
            handovers = history.handovers()
            print("  handovers: " + ", ".join(f"{a.holder}->{b.holder} (gap {gap:.2f}s)" for a, b, gap in handovers))
            assert any(b is takeover and a.holder == leader for a, b, _ in handovers)

            watcher.bounds = None
            await check_converged(api, watcher, ns, d, V2)
            assert watcher.samples and not watcher.violations, watcher.violations[:5]
            assert watcher.informer.relists == 1, "the pod watch broke: some states were not sampled"
            # every pod was created by the replica that held the Lease at the pod's revision, when the
            # controllers' Events say which replica wrote them
            creators = await pod_creators(api, ns)
            created = [a for a in watcher.actions if a.verb == "create"]
            if creators:
                wrong = {a.name: (creators.get(a.name), history.holder_at(a.revision)) for a in created
                         if creators.get(a.name) != history.holder_at(a.revision)}
                assert not wrong, f"pods created by a replica not holding the Lease (creator, holder): {wrong}"
            else:
                print(f"  note: Events do not name the replica (no reportingInstance/source.host), so the "
                      f"{len(created)} pods created cannot be attributed to a replica; checked instead: the Lease "
                      "history, the step-down, and no pod beyond the bounds")
    finally:
        if paused:
            plane.signal(victim, signal.SIGCONT)
        await watcher.informer.stop()
        await history.stop()
        await api.close()
