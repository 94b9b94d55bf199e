"""Failover, durability, watch, quorum, membership and lease tests on real replica processes.

Each test starts its own `LocalCluster` (replica processes on 127.0.0.1) and kills, stops or
adds replicas while writer tasks run. Tests assert behaviour; timings are printed (`-s`).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from raftkube.local.store_cluster import LocalCluster, free_port
from raftkube.store.errors import OutcomeUnknown, Unavailable
from raftkube.store.http_client import HttpClient
from raftkube.store.types import PutOp, TxnResult

from .cluster_workload import (
    WatchRecorder,
    Workload,
    ack_gap,
    call_bounded,
    check_replicas,
    grep_logs,
    links,
    read_replica,
    rotated,
    wait_converged,
    wait_until,
    watch_problems,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

MakeCluster = Callable[..., LocalCluster]


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    """Build LocalClusters under tmp_path; every replica process is killed at teardown."""
    clusters: list[LocalCluster] = []

    def make(**kwargs: Any) -> LocalCluster:
        cluster = LocalCluster(str(tmp_path / f"cluster{len(clusters)}"), **kwargs)
        clusters.append(cluster)
        print(f"cluster logs in {cluster.base_dir}")
        return cluster

    yield make
    for cluster in clusters:
        cluster.close()


async def started(make_cluster: MakeCluster, **kwargs: Any) -> LocalCluster:
    cluster = make_cluster(**kwargs)
    await asyncio.to_thread(cluster.start)
    return cluster


async def leader_of(cluster: LocalCluster, exclude: set[int] | None = None, timeout: float = 15.0) -> int:
    return await asyncio.to_thread(cluster.leader_index, timeout, frozenset(exclude or ()))


async def restart(cluster: LocalCluster, i: int) -> None:
    cluster.start_replica(i)
    await asyncio.to_thread(cluster.wait_healthy, [i], 30.0)


async def current_revision(client: HttpClient) -> int:
    return (await client.range(b"/", b"\0", count_only=True)).revision


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


# -------------------------------------------------------------- 4. quorum loss
@pytest.mark.parametrize("survivor", ["leader", "follower"])
async def test_quorum_loss_fails_cleanly_and_recovers(make_cluster: MakeCluster, survivor: str) -> None:
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    kept = leader if survivor == "leader" else (leader + 1) % 3
    victims = [i for i in range(3) if i != kept]
    healthy = cluster.client(cluster.endpoints)
    await healthy.put(b"/t4/before", b"1")
    # Both clients try the survivor first; "short" times out each request before the server answers.
    patient = cluster.client(rotated(cluster.endpoints, kept), deadline=2.0)
    short = cluster.client(rotated(cluster.endpoints, kept), deadline=2.0, request_timeout=1.0)
    try:
        for i in victims:
            cluster.kill(i)
        limit = 2.0 + 10.0 + 5.0  # deadline + one request timeout + slack: beyond this it is a hang
        ops = {name: [PutOp(b"/t4/%s/%d" % (name.encode(), j), b"v") for j in range(3)]
               for name in ("patient", "short")}
        (patient_result, patient_took), (short_result, short_took) = await asyncio.gather(
            call_bounded(patient.txn(success=ops["patient"]), limit),
            call_bounded(short.txn(success=ops["short"]), limit))
        print(f"\n[quorum loss, {survivor} survives] deadline 2 s: {type(patient_result).__name__} after "
              f"{patient_took:.3f} s; with 1 s request timeout: {type(short_result).__name__} after "
              f"{short_took:.3f} s")
        for result in (patient_result, short_result):
            assert not isinstance(result, TxnResult), "a write succeeded without a quorum"
            assert isinstance(result, (Unavailable, OutcomeUnknown)), f"not a clean failure: {result!r}"
        t_back = time.monotonic()
        for i in victims:
            cluster.start_replica(i)
        await asyncio.to_thread(cluster.wait_healthy, [0, 1, 2], 30.0)
        revision, _ = await healthy.put(b"/t4/after", b"2")
        print(f"[quorum loss, {survivor} survives] write accepted {time.monotonic() - t_back:.3f} s after restart")
        await wait_converged(cluster, [0, 1, 2], revision)
        state = {name: [await healthy.get(op.key) for op in ops[name]] for name in ops}
        present = {name: sum(kv is not None for kv in kvs) for name, kvs in state.items()}
        print(f"[quorum loss, {survivor} survives] keys of the failed writes present afterwards: {present}")
        for name in ops:
            assert present[name] in (0, 3), f"{name} write half applied: {state[name]}"
        for name, result in (("patient", patient_result), ("short", short_result)):
            if isinstance(result, Unavailable):
                assert present[name] == 0, (f"{name} write failed with Unavailable ('not applied') but was "
                                            f"applied: {result.message}")
    finally:
        for c in (healthy, patient, short):
            await c.close()


# -------------------------------------------------------------- 5. membership
async def test_add_member_catches_up_from_snapshot_then_remove(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster, extra_args=["--compaction-entries", "200"])
    load = Workload(cluster.endpoints, b"/t5/", writers=16, token=cluster.store_token).start()
    try:
        await load.wait_acked(1200)
        for more in range(2400, 12_001, 1200):  # concurrent writes share log entries: write until 1,200 entries
            status = cluster.status(await leader_of(cluster))
            if status is not None and status["commit_index"] > 1200:
                break
            await load.wait_acked(more)
    finally:
        await load.stop()
    assert not load.unexpected, load.unexpected[:3]
    leader = await leader_of(cluster)
    before = cluster.status(leader)
    assert before is not None
    print(f"\n[membership] {len(load.acked)} keys; leader log holds {before['log_entries']} of "
          f"{before['commit_index']} entries")
    assert before["log_entries"] < before["commit_index"] - 1000, "the leader's log was not compacted"
    members = [r.raft_addr for r in cluster.replicas]
    new = cluster.add_replica()
    client = cluster.client(cluster.endpoints[:3])
    try:
        t_add = time.monotonic()
        await client.add_member(cluster.replicas[new].raft_addr)
        cluster.start_replica(new, peers=members)
        await asyncio.to_thread(cluster.wait_healthy, [new], 30.0)
        agreed = await check_replicas(cluster, [0, 1, 2, new], load)
        print(f"[membership] replica {new + 1} caught up (digest equal at revision {agreed['revision']}) "
              f"{time.monotonic() - t_add:.3f} s after add_member")
        for i in range(4):
            status = cluster.status(i)
            assert status is not None
            assert {m["address"] for m in status["members"]} == {r.raft_addr for r in cluster.replicas}, status

        leader = await leader_of(cluster)
        victim = next(i for i in range(3) if i != leader)
        gone = cluster.replicas[victim].raft_addr
        rest = [i for i in range(4) if i != victim]
        others = cluster.client([cluster.replicas[i].url for i in rest])
        try:
            await others.remove_member(gone)
        finally:
            await others.close()

        def removed_everywhere() -> bool:
            statuses = [cluster.status(i) for i in rest]
            return all(s is not None and gone not in {m["address"] for m in s["members"]} for s in statuses)
        waited = await wait_until(removed_everywhere, 15.0, f"{gone} gone from the members of the others")
        print(f"[membership] {cluster.replicas[victim].name} removed; others agreed {waited:.3f} s later")
        cluster.kill(victim)
        remaining = cluster.client([cluster.replicas[i].url for i in rest])
        try:
            revision, _ = await remaining.put(b"/t5/after-remove", b"x")
        finally:
            await remaining.close()
        await wait_converged(cluster, rest, revision)
        for i in rest:
            status = cluster.status(i)
            assert status is not None and len(status["members"]) == 3, status
    finally:
        await client.close()


async def test_membership_changes_without_an_answer_fail_with_store_errors(make_cluster: MakeCluster) -> None:
    """Remove X through X itself (X never learns its removal committed), then add a member
    without a quorum: the cluster goes on without X, and each call ends in a StoreError."""
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    victim = (leader + 1) % 3
    gone = cluster.replicas[victim].raft_addr
    rest = [i for i in range(3) if i != victim]
    own = cluster.client([cluster.replicas[victim].url], deadline=2.0)
    last = cluster.client([cluster.replicas[leader].url], deadline=2.0)
    try:
        removal, took = await call_bounded(own.remove_member(gone), 30.0)
        print(f"\n[membership errors] remove_member through the removed replica: {removal!r} after {took:.3f} s")

        def removed() -> bool:
            statuses = [cluster.status(i) for i in rest]
            return all(s is not None and gone not in {m["address"] for m in s["members"]} for s in statuses)
        await wait_until(removed, 15.0, f"{gone} gone from the members of the others")
        terms = {i: (cluster.status(i) or {}).get("term") for i in rest}
        # The removed replica keeps running: the two members must go on without it, undisturbed.
        load = Workload([cluster.replicas[i].url for i in rest], b"/t5b/", writers=4,
                        token=cluster.store_token).start()
        try:
            await load.wait_acked(300)
        finally:
            await load.stop()
        assert not load.unexpected and not load.failed, (load.unexpected[:3], load.failed[:3])
        after = {i: (cluster.status(i) or {}).get("term") for i in rest}
        print(f"[membership errors] terms of the remaining members before/after 300 writes: {terms} / {after}")
        assert after == terms, "the removed replica disturbed the remaining members"
        await check_replicas(cluster, rest, load)

        # Without a quorum a membership change cannot commit: the call must end in a StoreError.
        cluster.kill(next(i for i in rest if i != leader))
        addition, took = await call_bounded(last.add_member(f"127.0.0.1:{free_port()}"), 30.0)
        print(f"[membership errors] add_member without a quorum: {addition!r} after {took:.3f} s")
        for what, result in (("add_member without a quorum", addition), ("remove_member through itself", removal)):
            assert result is None or isinstance(result, (OutcomeUnknown, Unavailable)), \
                f"{what}: expected success or a StoreError, got {result!r}"
        assert addition is not None, "a member was added without a quorum"
    finally:
        await own.close()
        await last.close()


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
