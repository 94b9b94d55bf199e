"""A deposed leader never serves a stale linearizable read.

1. In process: the leader is cut off from its peers (its Raft messages dropped both ways) with
   PySyncObj's own leaderFallbackTimeout (30 s), so it keeps claiming leadership while the other
   two elect a leader and commit a newer value; its linearizable read is refused (Unavailable),
   its serializable read shows the stale value it holds; after the partition heals it serves the
   new one.
2. Real processes: the leader is SIGSTOPped while the others elect and take a write; right after
   SIGCONT a linearizable read from it either fails or returns the new value, never the old.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from raftkube.local.store_cluster import free_port
from raftkube.store import LocalClient, RaftTuning, ReplicaConfig, StoreReplica, Unavailable
from raftkube.store.errors import StoreError
from tests.store.cluster_control import MakeCluster, leader_of, started
from tests.store.test_replica import until


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async def check() -> bool:
        return condition()
    await until(check, timeout)


@pytest.fixture
async def sticky_cluster(tmp_path: Path) -> AsyncIterator[list[StoreReplica]]:
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    secret = secrets.token_urlsafe(16)
    replicas = [StoreReplica(ReplicaConfig(a, [x for x in addrs if x != a], data_dir=str(tmp_path / f"r{i}"),
                                           password=secret, request_timeout=1.0,
                                           tuning=RaftTuning(leader_fallback_timeout=30.0)))
                for i, a in enumerate(addrs)]
    for r in replicas:
        await r.start()
    for r in replicas:
        await r.wait_ready(30)
    yield replicas
    for r in replicas:
        await r.stop()


def isolate(replica: StoreReplica) -> dict[str, Any]:
    """Drop every Raft message `replica` sends or receives; returns what `heal` needs."""
    assert replica.node is not None
    transport = replica.node._SyncObj__transport
    saved = {"send": transport.send, "on_message": transport._onMessageReceivedCallback}
    transport.send = lambda node, message: False
    transport.setOnMessageReceivedCallback(lambda node, message: None)
    return saved


def heal(replica: StoreReplica, saved: dict[str, Any]) -> None:
    assert replica.node is not None
    transport = replica.node._SyncObj__transport
    del transport.send
    transport.setOnMessageReceivedCallback(saved["on_message"])


async def test_partitioned_leader_refuses_linearizable_reads(sticky_cluster: list[StoreReplica]) -> None:
    await eventually(lambda: any(r.is_leader() for r in sticky_cluster))
    old = next(r for r in sticky_cluster if r.is_leader())
    others = [r for r in sticky_cluster if r is not old]
    await LocalClient(old).put(b"k", b"old")
    await eventually(lambda: all(r.read_local(lambda sm: sm.revision) == old.sm.revision for r in others))
    saved = isolate(old)
    try:
        await eventually(lambda: any(r.is_leader() for r in others))
        new = next(r for r in others if r.is_leader())
        await LocalClient(new).put(b"k", b"new")
        assert old.is_leader()  # the hazard: the cut-off leader still believes it leads
        with pytest.raises(Unavailable):
            await old.range(b"k")
        stale = await old.range(b"k", serializable=True)
        assert stale.kvs[0].value == b"old"  # it does hold the old value: only the check refused it
        follower = next(r for r in others if r is not new)
        assert (await follower.range(b"k")).kvs[0].value == b"new"
    finally:
        heal(old, saved)
    await eventually(lambda: not old.is_leader())
    assert (await old.range(b"k")).kvs[0].value == b"new"


@pytest.mark.cluster
@pytest.mark.timeout(120)
async def test_stopped_leader_never_serves_the_old_value(make_cluster: MakeCluster) -> None:
    cluster = await started(make_cluster)
    leader = await leader_of(cluster)
    clients = [cluster.client([url]) for url in cluster.endpoints]
    try:
        await clients[leader].put(b"/stop/k", b"old")
        outcomes: list[str] = []
        for _ in range(3):
            cluster.signal(leader, signal.SIGSTOP)
            try:
                new_leader = await leader_of(cluster, exclude={leader})
                value = b"new-%d" % len(outcomes)
                await clients[new_leader].put(b"/stop/k", value)
            finally:
                cluster.signal(leader, signal.SIGCONT)
            try:
                got = await clients[leader].range(b"/stop/k")
                assert got.kvs[0].value == value, got
                outcomes.append("new value")
            except StoreError as err:  # refused or timed out: allowed, a stale value is not
                outcomes.append(type(err).__name__)
            leader = await leader_of(cluster)
        print(f"\n[stale read] reads from the resumed leader: {outcomes}")
    finally:
        for client in clients:
            await client.close()
