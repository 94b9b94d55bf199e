"""Store failover on real replica processes (each test starts its own `LocalCluster` and kills, stops or adds
replicas while writer tasks run; timings are printed with -s): no acknowledged write is lost when the leader
or every replica is killed, and a watch survives a leader kill without gap or duplicate."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.store.cluster_control import MakeCluster, current_revision, leader_of, restart, started
from tests.store.cluster_workload import (
    WatchRecorder,
    Workload,
    ack_gap,
    check_replicas,
    links,
    read_replica,
    rotated,
    wait_converged,
    watch_problems,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


# ---------------------------------------------------------------- 1. leader kill
async def test_leader_kill_during_writes_loses_no_acknowledged_write(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    load = Workload(cluster.endpoints, b"/t1/", writers=6, token=cluster.store_token).start()
    try:
        await load.wait_acked(300)
        mesh = await asyncio.to_thread(links, cluster)
        t_kill = time.monotonic()
        cluster.kill(leader)
        new_leader = await leader_of(cluster, exclude={leader})
        t_elected = time.monotonic()
        await load.wait_acked(300, sent_after=t_elected)
        t_restart = time.monotonic()
        await restart(cluster, leader)
        await load.wait_acked(200, sent_after=time.monotonic())
    finally:
        await load.stop()
    gap, first_ack = ack_gap(load.acked, t_kill, after=t_restart - t_kill)
    restart_gap, _ = ack_gap(load.acked, t_restart)
    print(f"\n[leader kill] peer links before the kill: {mesh}")
    print(f"[leader kill] acked {len(load.acked)} failed {len(load.failed)}; new leader elected "
          f"{t_elected - t_kill:.3f} s after the kill; first ack of a write sent after the kill {first_ack:.3f} s; "
          f"write gap {gap:.3f} s; write gap around the killed replica's restart {restart_gap:.3f} s")
    assert new_leader != leader
    assert not load.unexpected, load.unexpected[:3]
    agreed = await check_replicas(cluster, [0, 1, 2], load)
    print(f"[leader kill] all 3 replicas agree at revision {agreed['revision']}")


# ----------------------------------------------------------- 2. kill all replicas
async def test_kill_all_replicas_keeps_acknowledged_writes(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    load = Workload(cluster.endpoints, b"/t2/", writers=6, token=cluster.store_token).start()
    try:
        await load.wait_acked(500)
        for i in range(3):
            cluster.signal(i, signal.SIGKILL)
        t_kill = time.monotonic()
        for i in range(3):
            cluster.kill(i)  # reap
        acked_before_restart = list(load.acked)
        for i in range(3):
            cluster.start_replica(i)
        await asyncio.to_thread(cluster.wait_healthy, [0, 1, 2], 30.0)
        t_up = time.monotonic()
        await load.wait_acked(300, sent_after=t_up)
    finally:
        await load.stop()
    gap, first_ack = ack_gap(load.acked, t_kill, after=60.0)
    print(f"\n[kill all] acked {len(load.acked)} ({len(acked_before_restart)} before the kill) failed "
          f"{len(load.failed)}; healthy again {t_up - t_kill:.3f} s after the kill; first ack of a write sent after "
          f"{first_ack:.3f} s; write gap {gap:.3f} s")
    assert not load.unexpected, load.unexpected[:3]
    agreed = await check_replicas(cluster, [0, 1, 2], load)
    print(f"[kill all] all 3 replicas agree at revision {agreed['revision']}")


# --------------------------------------------------------- 3. watch across a kill
async def test_watch_survives_leader_kill_without_gap_or_duplicate(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    follower = (leader + 1) % 3
    client = cluster.client(cluster.endpoints)
    prefix = b"/t3/"
    start = await current_revision(client) + 1
    on_leader = WatchRecorder(rotated(cluster.endpoints, leader), prefix, start, cluster.store_token).start()
    on_follower = WatchRecorder(rotated(cluster.endpoints, follower), prefix, start, cluster.store_token).start()
    load = Workload(cluster.endpoints, prefix, writers=4, token=cluster.store_token).start()
    try:
        await load.wait_acked(200)
        first_rev = min(w.revision for w in load.acked)
        await on_leader.wait_revision(first_rev)
        await on_follower.wait_revision(first_rev)
        status = cluster.status(leader)
        assert status is not None and status["watchers"] >= 1, "the leader should serve a watch before the kill"
        mesh = await asyncio.to_thread(links, cluster)
        t_kill = time.monotonic()
        cluster.kill(leader)
        await leader_of(cluster, exclude={leader})
        await load.wait_acked(300, sent_after=time.monotonic())
        await restart(cluster, leader)
        await load.wait_acked(100, sent_after=time.monotonic())
        await load.stop()
        agreed = await wait_converged(cluster, [0, 1, 2], load.max_revision())
        final = await read_replica(cluster.replicas[follower].url, prefix, cluster.store_token)
        last = max(kv.mod_revision for kv in final.values())
        waited = [await r.wait_revision(last) for r in (on_leader, on_follower)]
    finally:
        await load.stop()
        await on_leader.stop()
        await on_follower.stop()
        await client.close()
    print(f"\n[watch] peer links before the kill: {mesh}")
    print(f"[watch] acked {len(load.acked)} failed {len(load.failed)}; final revision {agreed['revision']}; "
          f"events delivered: watch on the killed leader {len(on_leader.events)}, on a follower "
          f"{len(on_follower.events)}; extra wait for delivery {waited[0]:.3f} / {waited[1]:.3f} s")
    after_kill = [e for e in on_leader.events if e.revision > max(w.revision for w in load.acked if w.done < t_kill)]
    assert after_kill, "the watch whose replica was killed delivered nothing after the kill"
    for name, recorder in (("watch on the killed leader", on_leader), ("watch on a follower", on_follower)):
        found = watch_problems(recorder, final, load)
        assert not found, f"{name}: {found[:5]}"
