"""The backend byte quota: writes past it refused with NoSpace, reads/deletes/compactions still apply,
the same decision on every replica (a function of the applied log), and the leader replicates its quota."""

from __future__ import annotations

import asyncio
import pickle
import secrets

import pytest

from raftkube.local.store_cluster import free_port
from raftkube.store import LocalClient, ReplicaConfig, StoreReplica
from raftkube.store.errors import NoSpace, error_from_wire
from raftkube.store.mvcc import KVStateMachine
from raftkube.store.quota import ENTRY_OVERHEAD, live_size
from raftkube.store.types import TxnResult


def put(key: bytes, value: bytes) -> dict[str, object]:
    return {"t": "txn", "ok": [["put", key, value, 0, False]]}


def small_machine(quota: int) -> KVStateMachine:
    sm = KVStateMachine()
    sm.apply({"t": "quota", "bytes": quota})
    assert sm.quota_bytes == quota
    return sm


def test_a_put_past_the_quota_is_refused_and_changes_nothing() -> None:
    sm = small_machine(10_000)
    for i in range(4):
        assert isinstance(sm.apply(put(b"k%d" % i, b"x" * 1000)).result, TxnResult)
    revision, size = sm.revision, sm.size_bytes
    refused = sm.apply(put(b"big", b"x" * 4000)).result
    assert isinstance(refused, NoSpace)
    assert "database space exceeded" in refused.message and "quota of 10000 bytes" in refused.message
    assert (sm.revision, sm.size_bytes, sm.range(b"big").count) == (revision, size, 0)
    assert sm.range(b"k0").kvs[0].value == b"x" * 1000  # reads still work
    assert isinstance(error_from_wire(refused.to_wire()), NoSpace)  # survives the HTTP hop


def test_deletes_shrinking_puts_and_compaction_apply_over_the_quota_and_bring_it_back_under() -> None:
    sm = small_machine(10_000)
    for i in range(4):
        sm.apply(put(b"k%d" % i, b"x" * 1100))
    assert isinstance(sm.apply(put(b"k9", b"x" * 1100)).result, NoSpace)
    assert isinstance(sm.apply(put(b"k0", b"y")).result, TxnResult)  # a shrinking put
    deleted = sm.apply({"t": "txn", "ok": [["del", b"k1", b"k4", False]]}).result
    assert isinstance(deleted, TxnResult)
    assert isinstance(sm.apply(put(b"k9", b"x" * 1100)).result, TxnResult)  # the deleted values' live bytes freed


def test_history_counts_until_it_is_compacted() -> None:
    sm = small_machine(10_000)
    while isinstance(sm.apply(put(b"k", b"x" * 1000)).result, TxnResult):  # one key rewritten: history grows
        assert sm.revision < 20
    assert sm.range(b"\0", b"\0").count == 1
    assert isinstance(sm.apply({"t": "compact", "rev": sm.revision}).result, dict)
    assert isinstance(sm.apply(put(b"k", b"x" * 1000)).result, TxnResult)


def test_the_logical_size_is_exact_and_deterministic() -> None:
    a, b = small_machine(1 << 20), small_machine(1 << 20)
    cmds = [put(b"a", b"1" * 10), put(b"a", b"2" * 3), {"t": "txn", "ok": [["del", b"a", b"", False]]},
            put(b"b", b"3" * 7), {"t": "compact", "rev": 4}]
    for cmd in cmds:
        a.apply(cmd)
        b.apply(cmd)
    assert a.size_bytes == b.size_bytes
    counted = a.size_bytes
    a.recount_size()  # counted from scratch
    assert a.size_bytes == counted == live_size(a.kv) + sum(len(r[2]) + len(r[3]) + ENTRY_OVERHEAD for r in a.history)
    restored = pickle.loads(pickle.dumps(a))
    assert (restored.size_bytes, restored.quota_bytes) == (a.size_bytes, a.quota_bytes)


def test_a_snapshot_from_before_the_quota_counts_its_size() -> None:
    sm = KVStateMachine()
    sm.apply(put(b"a", b"1" * 10))
    del sm.__dict__["_size"], sm.__dict__["quota_bytes"]  # as unpickled from an older snapshot
    assert sm.size_bytes == 2 * (1 + 10 + ENTRY_OVERHEAD)
    assert sm.quota_bytes > 0


@pytest.mark.parametrize("value", [0, -1, True, "1"])
def test_a_bad_quota_command_is_refused(value: object) -> None:
    sm = KVStateMachine()
    result = sm.apply({"t": "quota", "bytes": value}).result
    assert getattr(result, "details", {}).get("field") == "bytes"


async def test_the_replica_replicates_its_quota_then_refuses_and_recovers_after_deletes() -> None:
    quota = 60_000
    replica = StoreReplica(ReplicaConfig(f"127.0.0.1:{free_port()}", [], password=secrets.token_urlsafe(16),
                                         quota_backend_bytes=quota))
    await replica.start()
    try:
        await replica.wait_ready(30)
        client = LocalClient(replica)
        for _ in range(200):  # the leader's maintenance replicates --quota-backend-bytes
            if replica.status()["quota_bytes"] == quota:
                break
            await asyncio.sleep(0.05)
        assert replica.status()["quota_bytes"] == quota
        stored = 0
        with pytest.raises(NoSpace, match="database space exceeded"):
            for stored in range(1000):
                await client.put(b"/k/%04d" % stored, b"v" * 100)
        assert replica.status()["size_bytes"] > quota * 0.9
        assert (await client.get_prefix(b"/k/")).count == stored  # reads work
        await client.delete_prefix(b"/k/")  # deletes work; the leader then compacts the history
        for _ in range(200):
            try:
                await client.put(b"/after", b"v" * 100)
                break
            except NoSpace:
                await asyncio.sleep(0.05)
        assert (await client.get(b"/after")) is not None
        assert replica.status()["size_bytes"] < quota * 0.9
    finally:
        await replica.stop()
