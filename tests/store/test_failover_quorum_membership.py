"""Store failover on real replica processes (each test starts its own `LocalCluster` and kills, stops or adds
replicas while writer tasks run; timings are printed with -s): quorum loss fails cleanly and recovers; members
are added (catching up from a snapshot) and removed; membership changes without an answer fail with store
errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from raftkube.local.store_cluster import free_port
from raftkube.store.errors import OutcomeUnknown, Unavailable
from raftkube.store.types import PutOp, TxnResult
from tests.store.cluster_control import MakeCluster, leader_of, started
from tests.store.cluster_workload import (
    Workload,
    call_bounded,
    check_replicas,
    rotated,
    wait_converged,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


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
