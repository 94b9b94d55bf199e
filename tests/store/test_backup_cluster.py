"""Backup and restore of real replica processes, and replacing a dead replica for good.

`raftkube store snapshot save` runs while writers load a 3-replica cluster; the file must be
the cluster's exact state at the file's revision (checked against a past read at that
revision), and three members restored from it on other ports must form a cluster holding
that state, whose next write gets the next revision and where older watches are compacted.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftkube.local.store_cluster import LocalCluster, free_port
from raftkube.store import CompactedError, KeyValue

from .cluster_workload import Workload, check_replicas, wait_converged, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[list[LocalCluster]]:
    made: list[LocalCluster] = []
    yield made
    for cluster in made:
        cluster.close()


def cli(*args: str, endpoints: list[str] | None = None, token_file: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if token_file:
        env["RAFTKUBE_STORE_TOKEN_FILE"] = token_file
    if endpoints:
        env["RAFTKUBE_STORE_ENDPOINTS"] = ",".join(endpoints)
    return subprocess.run([sys.executable, "-m", "raftkube", "store", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def as_tuples(kvs: list[KeyValue]) -> list[tuple[Any, ...]]:
    return [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) for kv in kvs]


async def test_save_under_load_then_restore_a_new_cluster_from_the_file(tmp_path: Path,
                                                                      clusters: list[LocalCluster]) -> None:
    old = LocalCluster(str(tmp_path / "old"))
    clusters.append(old)
    await asyncio.to_thread(old.start)
    client = old.client()
    long_lease = await client.lease_grant(3600)
    other_lease = await client.lease_grant(900)
    for i in range(40):
        await client.put(b"/leased/%02d" % i, b"v%d" % i, lease=(long_lease, other_lease)[i % 2].id)
    await client.delete(b"/leased/00")
    load = Workload(old.endpoints, b"/load/", writers=8, token=old.store_token).start()
    try:
        await load.wait_acked(300)
        saved = await asyncio.to_thread(cli, "snapshot", "save", str(tmp_path / "backup.db"), "-o", "json",
                                        endpoints=old.endpoints, token_file=old.store_token_file)
        await load.wait_acked(len(load.acked) + 100)  # writes went on during and after the save
    finally:
        await load.stop()
    assert saved.returncode == 0, saved.stderr
    info = json.loads(saved.stdout)
    path = tmp_path / "backup.db"
    assert os.stat(path).st_mode & 0o777 == 0o600
    status = await asyncio.to_thread(cli, "snapshot", "status", str(path), "-o", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == info
    revision = info["revision"]
    assert load.max_revision() > revision > 42, "the save did not run while the writers were writing"

    # the file holds exactly the cluster's state at its revision (a past read on the old cluster)
    at_revision = await client.range(b"\0", b"\0", revision=revision)
    leases_then = {x.id: x.ttl for x in await client.leases()}
    await client.close()
    assert info["total_keys"] == at_revision.count and info["leases"] == 2

    ports = [(free_port(), free_port()) for _ in range(3)]
    initial = ",".join(f"m{i}=127.0.0.1:{raft}" for i, (raft, _) in enumerate(ports))
    new = LocalCluster(str(tmp_path / "new"), ports=ports)
    clusters.append(new)
    for i, replica in enumerate(new.replicas):
        done = await asyncio.to_thread(cli, "snapshot", "restore", str(path), "--data-dir", replica.data_dir,
                                       "--name", f"m{i}", "--initial-cluster", initial)
        assert done.returncode == 0, done.stderr
        assert os.stat(replica.data_dir).st_mode & 0o777 == 0o700
    again = await asyncio.to_thread(cli, "snapshot", "restore", str(path), "--data-dir", new.replicas[0].data_dir,
                                    "--name", "m0", "--initial-cluster", initial)
    assert again.returncode == 1 and "not an empty directory" in again.stderr

    old.close()  # the old cluster is gone (all three data dirs lost): only the file is left
    await asyncio.to_thread(new.start)
    restored = new.client()
    try:
        everything = await restored.range(b"\0", b"\0")
        assert everything.revision == revision
        assert as_tuples(everything.kvs) == as_tuples(at_revision.kvs)
        leases = await restored.leases()
        assert {x.id: x.ttl for x in leases} == leases_then
        assert sorted(k for x in leases for k in x.keys) == [kv.key for kv in at_revision.kvs if kv.lease]
        converged = await wait_converged(new, [0, 1, 2], revision)
        assert converged["revision"] == revision
        written, _ = await restored.put(b"/after-restore", b"x")
        assert written == revision + 1
        kept_alive = await restored.lease_keepalive(long_lease.id)
        assert kept_alive.ttl == 3600
        with pytest.raises(CompactedError):
            async for _ in restored.watch(b"/", b"\0", start_revision=revision - 1):
                break
        await wait_converged(new, [0, 1, 2], revision + 1)
        new.close()  # every restored member killed at once, then started again: nothing is lost
        await asyncio.to_thread(new.start)
        again_all = await restored.range(b"\0", b"\0")
        assert again_all.revision == revision + 1
        assert as_tuples(again_all.kvs) == sorted(as_tuples(at_revision.kvs) + [
            (b"/after-restore", b"x", revision + 1, revision + 1, 1, 0)])
        # a member added later with an empty data dir gets the restored state (the leader holds no
        # log entry it could replay from the start, so it sends its snapshot), not an empty store
        members = [r.raft_addr for r in new.replicas]
        fourth = new.add_replica()
        await restored.add_member(new.replicas[fourth].raft_addr)
        new.start_replica(fourth, peers=members)
        await asyncio.to_thread(new.wait_healthy, [fourth], 30.0)
        agreed = await wait_converged(new, [0, 1, 2, fourth], revision + 1)
        assert agreed["revision"] == revision + 1
    finally:
        await restored.close()


async def test_a_corrupted_backup_is_refused_by_status_and_restore(tmp_path: Path,
                                                                  clusters: list[LocalCluster]) -> None:
    cluster = LocalCluster(str(tmp_path / "c"), size=1)
    clusters.append(cluster)
    await asyncio.to_thread(cluster.start)
    client = cluster.client()
    for i in range(100):
        await client.put(b"/k/%03d" % i, os.urandom(200))
    await client.close()
    path = tmp_path / "backup.db"
    dead = f"http://127.0.0.1:{free_port()}"  # the first endpoint is down: the save moves on to the next
    saved = await asyncio.to_thread(cli, "snapshot", "save", str(path), endpoints=[dead, *cluster.endpoints],
                                  token_file=cluster.store_token_file)
    assert saved.returncode == 0, saved.stderr
    assert "revision:      101" in saved.stdout and "total keys:    100" in saved.stdout
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    status = await asyncio.to_thread(cli, "snapshot", "status", str(path))
    assert status.returncode == 1 and "checksum mismatch" in status.stderr
    target = tmp_path / "member"
    done = await asyncio.to_thread(cli, "snapshot", "restore", str(path), "--data-dir", str(target), "--name", "a",
                                   "--initial-cluster", "a=127.0.0.1:7001")
    assert done.returncode == 1 and "checksum mismatch" in done.stderr
    assert not target.exists()
    path.write_bytes(bytes(data[: len(data) // 3]))
    status = await asyncio.to_thread(cli, "snapshot", "status", str(path))
    assert status.returncode == 1 and "truncated" in status.stderr


async def test_a_dead_replica_is_replaced_by_a_new_one_with_an_empty_data_dir(tmp_path: Path,
                                                                             clusters: list[LocalCluster]) -> None:
    """Replica 3 is dead for good: remove it, add replica 4 (empty data dir), which catches up."""
    cluster = LocalCluster(str(tmp_path / "c"), extra_args=["--compaction-entries", "200"])
    clusters.append(cluster)
    await asyncio.to_thread(cluster.start)
    load = Workload(cluster.endpoints, b"/before/", writers=6, token=cluster.store_token).start()
    try:
        await load.wait_acked(600)
    finally:
        await load.stop()
    cluster.kill(2)
    survivors = [cluster.endpoints[0], cluster.endpoints[1]]
    removed = await asyncio.to_thread(cli, "member", "remove", cluster.replicas[2].raft_addr, endpoints=survivors,
                                    token_file=cluster.store_token_file)
    assert removed.returncode == 0, removed.stderr
    new = cluster.add_replica()
    added = await asyncio.to_thread(cli, "member", "add", cluster.replicas[new].raft_addr, endpoints=survivors,
                                    token_file=cluster.store_token_file)
    assert added.returncode == 0, added.stderr
    assert not os.path.exists(cluster.replicas[new].data_dir)
    cluster.start_replica(new, peers=[cluster.replicas[0].raft_addr, cluster.replicas[1].raft_addr])
    await asyncio.to_thread(cluster.wait_healthy, [0, 1, new], 30.0)
    after = Workload([cluster.endpoints[i] for i in (0, 1, new)], b"/after/", writers=4,
                     token=cluster.store_token).start()
    try:
        await after.wait_acked(100)
    finally:
        await after.stop()
    await check_replicas(cluster, [0, 1, new], load)
    await check_replicas(cluster, [0, 1, new], after)
    for i in (0, 1, new):
        status = cluster.status(i)
        assert status is not None
        assert {m["address"] for m in status["members"]} == {cluster.replicas[j].raft_addr for j in (0, 1, new)}
    # the new member counts toward the quorum: with replica 1 down too, 2 of 3 still write
    cluster.kill(0)
    two = cluster.client([cluster.endpoints[1], cluster.endpoints[new]])
    try:
        revision, _ = await two.put(b"/after/quorum", b"x")
    finally:
        await two.close()
    await wait_converged(cluster, [1, new], revision)


async def test_a_restored_lease_starts_a_fresh_countdown_and_still_expires(tmp_path: Path,
                                                                          clusters: list[LocalCluster]) -> None:
    """etcd's behaviour: a restored lease gets its whole TTL again from the new cluster's start."""
    old = LocalCluster(str(tmp_path / "old"), size=1)
    clusters.append(old)
    await asyncio.to_thread(old.start)
    client = old.client()
    lease = await client.lease_grant(5)
    await client.put(b"/leased", b"x", lease=lease.id)
    await client.close()
    granted = time.monotonic()
    path = tmp_path / "backup.db"
    saved = await asyncio.to_thread(cli, "snapshot", "save", str(path), endpoints=old.endpoints,
                                    token_file=old.store_token_file)
    assert saved.returncode == 0, saved.stderr
    old.close()
    raft, http = free_port(), free_port()
    new = LocalCluster(str(tmp_path / "new"), size=1, ports=[(raft, http)])
    clusters.append(new)
    done = await asyncio.to_thread(cli, "snapshot", "restore", str(path), "--data-dir", new.replicas[0].data_dir,
                                   "--name", "only", "--initial-cluster", f"only=127.0.0.1:{raft}")
    assert done.returncode == 0, done.stderr
    await wait_until(lambda: time.monotonic() - granted > 5.5, 15.0, "the old lease's TTL to pass")
    await asyncio.to_thread(new.start)
    restored = new.client()
    try:
        assert (await restored.get(b"/leased")) is not None, "the restored lease expired on its old countdown"
        assert [x.id for x in await restored.leases()] == [lease.id]
        deadline = time.monotonic() + 15
        while await restored.get(b"/leased") is not None:
            assert time.monotonic() < deadline, "the restored lease never expired"
            await asyncio.sleep(0.1)
        assert await restored.leases() == []
    finally:
        await restored.close()
