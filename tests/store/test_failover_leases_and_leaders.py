"""Store failover on real replica processes (each test starts its own `LocalCluster` and kills, stops or adds
replicas while writer tasks run; timings are printed with -s): a lease outlives a leader kill and expires
under the new leader; no follower truncates applied entries; a stopped leader steps down and catches up."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from raftkube.store.errors import OutcomeUnknown, Unavailable
from tests.store.cluster_control import MakeCluster, leader_of, started
from tests.store.cluster_workload import (
    Workload,
    ack_gap,
    check_replicas,
    grep_logs,
    links,
    rotated,
    wait_converged,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


# ------------------------------------------------------------------ 6. leases
async def test_lease_outlives_leader_kill_and_expires_under_new_leader(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    ttl = 2
    client = cluster.client(cluster.endpoints, deadline=10.0)
    keeper = cluster.client(rotated(cluster.endpoints, (leader + 1) % 3), deadline=10.0)
    renewals: list[float] = []
    stop_keepalive = asyncio.Event()
    keepalive: asyncio.Task[None] | None = None

    async def keep_alive(lease_id: int) -> None:
        for _ in range(200):  # bounded: at most 200 renewals
            if stop_keepalive.is_set():
                return
            sent = time.monotonic()
            try:
                await keeper.lease_keepalive(lease_id)
                renewals.append(sent)
            except (Unavailable, OutcomeUnknown):
                pass
            await asyncio.sleep(ttl / 5)

    async def count(prefix: bytes) -> int:
        return (await client.get_prefix(prefix)).count

    try:
        t_grant = time.monotonic()
        short = await client.lease_grant(ttl)
        kept = await client.lease_grant(ttl)
        for j in range(3):
            await client.put(b"/t6/short/%d" % j, b"s", lease=short.id)
            await client.put(b"/t6/kept/%d" % j, b"k", lease=kept.id)
        keepalive = asyncio.create_task(keep_alive(kept.id))
        mesh = await asyncio.to_thread(links, cluster)
        cluster.kill(leader)
        new_leader = await leader_of(cluster, exclude={leader})
        seen: list[tuple[float, int]] = []
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            n = await count(b"/t6/short/")
            seen.append((time.monotonic(), n))
            if n == 0:
                break
            await asyncio.sleep(0.05)
        assert seen and seen[-1][1] == 0, f"short lease keys never expired: {seen[-3:]}"
        early = [(t - t_grant, n) for t, n in seen if t < t_grant + ttl and n != 3]
        assert not early, f"lease keys changed before the TTL ran out: {early}"
        assert (await count(b"/t6/kept/")) == 3
        print(f"\n[lease] peer links before the kill: {mesh}")
        print(f"[lease] leader killed, new leader {cluster.replicas[new_leader].name}; first read after the kill "
              f"{seen[0][0] - t_grant:.3f} s after grant ({seen[0][1]} keys); keys gone "
              f"{seen[-1][0] - t_grant:.3f} s after grant (TTL {ttl} s)")
        assert short.id not in {x.id for x in await client.leases()}
        # The kept lease outlives twice its TTL while renewed ...
        await wait_until(lambda: time.monotonic() > t_grant + 2 * ttl + 0.5, 10.0, "two TTLs")
        assert (await count(b"/t6/kept/")) == 3, "a lease kept alive expired"
        stop_keepalive.set()
        await keepalive
        assert renewals, "no keepalive succeeded"
        last = renewals[-1]
        # ... and expires once renewals stop.
        seen = []
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            n = await count(b"/t6/kept/")
            seen.append((time.monotonic(), n))
            if n == 0:
                break
            await asyncio.sleep(0.05)
        assert seen[-1][1] == 0, "kept lease never expired after renewals stopped"
        early = [(t - last, n) for t, n in seen if t < last + ttl and n != 3]
        assert not early, f"kept lease keys deleted before TTL after the last renewal: {early}"
        print(f"[lease] {len(renewals)} renewals; kept keys gone {seen[-1][0] - last:.3f} s after the last one")
        assert (await client.get_prefix(b"/t6/")).count == 0
        await wait_converged(cluster, [i for i in range(3) if i != leader])
    finally:
        stop_keepalive.set()
        if keepalive is not None:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)
        await client.close()
        await keeper.close()


# ---------------------------------------------- 7. no truncation of applied entries
async def test_no_follower_truncates_applied_entries_under_load(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    load = Workload(cluster.endpoints, b"/t7/", writers=24, token=cluster.store_token).start()
    t0 = time.monotonic()
    try:
        await load.wait_acked(3000, timeout=60.0)
    finally:
        await load.stop()
    took = time.monotonic() - t0
    print(f"\n[load] {len(load.acked)} writes acknowledged in {took:.3f} s ({len(load.acked) / took:.0f}/s), "
          f"{len(load.failed)} failed")
    assert not load.unexpected, load.unexpected[:3]
    assert not load.failed, load.failed[:3]
    agreed = await check_replicas(cluster, [0, 1, 2], load)
    print(f"[load] replicas agree at revision {agreed['revision']}")
    hits = grep_logs(cluster, "truncating already-applied log entries")
    assert not hits, {name: (len(lines), lines[:2]) for name, lines in hits.items()}


# ------------------------------------------------------------ 8. SIGSTOP leader
async def test_stopped_leader_steps_down_and_catches_up(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    load = Workload(cluster.endpoints, b"/t8/", writers=6, token=cluster.store_token, request_timeout=2.0).start()
    try:
        await load.wait_acked(200)
        mesh = await asyncio.to_thread(links, cluster)
        t_stop = time.monotonic()
        cluster.signal(leader, signal.SIGSTOP)
        try:
            new_leader = await leader_of(cluster, exclude={leader})
            t_elected = time.monotonic()
            await load.wait_acked(300, sent_after=t_elected)
        finally:
            cluster.signal(leader, signal.SIGCONT)
        t_cont = time.monotonic()

        old_addr = cluster.replicas[leader].raft_addr

        def stepped_down() -> bool:
            status = cluster.status(leader)
            return status is not None and status["state"] == "follower" and status["leader"] not in (None, old_addr)
        waited = await wait_until(stepped_down, 15.0, "the old leader following the new one")
        await load.wait_acked(200, sent_after=time.monotonic())
    finally:
        await load.stop()
    gap, first_ack = ack_gap(load.acked, t_stop)
    print(f"\n[SIGSTOP] peer links before SIGSTOP: {mesh}")
    print(f"[SIGSTOP] stopped {t_cont - t_stop:.3f} s; new leader after {t_elected - t_stop:.3f} s; first ack "
          f"{first_ack:.3f} s after SIGSTOP; write gap {gap:.3f} s; old leader followed {waited:.3f} s after "
          f"SIGCONT; acked {len(load.acked)} failed {len(load.failed)}")
    assert new_leader != leader
    assert not load.unexpected, load.unexpected[:3]
    agreed = await check_replicas(cluster, [0, 1, 2], load)
    print(f"[SIGSTOP] all 3 replicas agree at revision {agreed['revision']}")
