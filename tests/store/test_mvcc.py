"""Unit tests of the MVCC state machine: revisions, txns, leases, history, determinism."""

from __future__ import annotations

import gc
import pickle

import pytest

from raftkube.store.errors import CompactedError, FutureRevisionError, InvalidRequest, LeaseNotFound
from raftkube.store.mvcc import KVStateMachine
from raftkube.store.types import DeleteResult, PutResult, RangeResult, TxnResult


def put(sm: KVStateMachine, key: bytes, value: bytes, lease: int = 0, rid: bytes | None = None) -> TxnResult:
    result = sm.apply({"t": "txn", "rid": rid, "ok": [["put", key, value, lease, True]]}).result
    assert isinstance(result, TxnResult)
    return result


def test_revision_bumps_once_per_write_txn_and_not_for_reads_or_noops() -> None:
    sm = KVStateMachine()
    assert sm.revision == 1
    r = sm.apply({"t": "txn", "ok": [["put", b"a", b"1", 0, False], ["put", b"b", b"2", 0, False]]}).result
    assert isinstance(r, TxnResult) and r.revision == 2
    assert sm.range(b"a").kvs[0].mod_revision == sm.range(b"b").kvs[0].mod_revision == 2
    sm.apply({"t": "txn", "ok": [["range", b"a", b"", 0, False, False]]})
    sm.apply({"t": "txn", "ok": [["del", b"missing", b"", False]]})
    sm.apply({"t": "noop"})
    assert sm.revision == 2


def test_create_mod_revision_and_version_follow_etcd() -> None:
    sm = KVStateMachine()
    put(sm, b"k", b"1")
    put(sm, b"k", b"2")
    kv = sm.range(b"k").kvs[0]
    assert (kv.create_revision, kv.mod_revision, kv.version, kv.value) == (2, 3, 2, b"2")
    sm.apply({"t": "txn", "ok": [["del", b"k", b"", False]]})
    put(sm, b"k", b"3")
    kv = sm.range(b"k").kvs[0]
    assert (kv.create_revision, kv.mod_revision, kv.version) == (5, 5, 1)


def test_put_returns_previous_value_on_request() -> None:
    sm = KVStateMachine()
    first = put(sm, b"k", b"1").responses[0]
    second = put(sm, b"k", b"2").responses[0]
    assert isinstance(first, PutResult) and first.prev_kv is None
    assert isinstance(second, PutResult) and second.prev_kv is not None and second.prev_kv.value == b"1"


def test_range_prefix_limit_count_and_more() -> None:
    sm = KVStateMachine()
    for i in range(5):
        put(sm, b"p/%d" % i, b"v")
    put(sm, b"q", b"v")
    result = sm.range(b"p/", b"p0", limit=2)
    assert [kv.key for kv in result.kvs] == [b"p/0", b"p/1"]
    assert (result.count, result.more) == (5, True)
    everything = sm.range(b"\0", b"\0")
    assert everything.count == 6 and not everything.more
    assert sm.range(b"p/", b"p0", count_only=True).kvs == []
    assert sm.range(b"p/", b"p0", keys_only=True).kvs[0].value == b""


def test_txn_compare_chooses_branch_and_reads_see_earlier_writes() -> None:
    sm = KVStateMachine()
    put(sm, b"k", b"1")
    cmd = {"t": "txn", "cmp": [["cmp", b"k", "value", "=", b"1"]],
           "ok": [["put", b"k", b"2", 0, False], ["range", b"k", b"", 0, False, False]],
           "fail": [["range", b"k", b"", 0, False, False]]}
    ok = sm.apply(cmd).result
    assert isinstance(ok, TxnResult) and ok.succeeded
    read = ok.responses[1]
    assert isinstance(read, RangeResult) and read.kvs[0].value == b"2"
    again = sm.apply(cmd).result
    assert isinstance(again, TxnResult) and not again.succeeded and again.revision == ok.revision


@pytest.mark.parametrize(("target", "op", "operand", "expected"), [
    ("version", "=", 0, True), ("create", "=", 0, True), ("mod", ">", 0, False), ("value", "=", b"", False),
    ("lease", "=", 0, True), ("version", "!=", 0, False), ("version", "<", 1, True),
])
def test_compare_on_missing_key(target: str, op: str, operand: object, expected: bool) -> None:
    sm = KVStateMachine()
    result = sm.apply({"t": "txn", "cmp": [["cmp", b"absent", target, op, operand]]}).result
    assert isinstance(result, TxnResult) and result.succeeded is expected


def test_delete_range_emits_one_event_per_key_at_one_revision() -> None:
    sm = KVStateMachine()
    for key in (b"a/1", b"a/2", b"b"):
        put(sm, key, b"v")
    applied = sm.apply({"t": "txn", "ok": [["del", b"a/", b"a0", True]]})
    assert isinstance(applied.result, TxnResult)
    deleted = applied.result.responses[0]
    assert isinstance(deleted, DeleteResult) and deleted.deleted == 2
    assert [kv.key for kv in deleted.prev_kvs] == [b"a/1", b"a/2"]
    assert [(e.type, e.kv.key, e.revision) for e in applied.events] == [("DELETE", b"a/1", 5), ("DELETE", b"a/2", 5)]


def test_lease_revoke_deletes_attached_keys_and_put_needs_existing_lease() -> None:
    sm = KVStateMachine()
    lease = sm.apply({"t": "grant", "ttl": 10}).result
    assert lease is not None and not isinstance(lease, Exception)
    lease_id = lease.id  # type: ignore[union-attr]
    put(sm, b"x", b"1", lease=lease_id)
    put(sm, b"y", b"1", lease=lease_id)
    put(sm, b"y", b"2")  # moved off the lease
    missing = sm.apply({"t": "txn", "ok": [["put", b"z", b"1", 999, False]]}).result
    assert isinstance(missing, LeaseNotFound)
    assert sm.range(b"z").count == 0
    rev = sm.revision
    applied = sm.apply({"t": "revoke", "id": lease_id})
    assert [e.kv.key for e in applied.events] == [b"x"]
    assert sm.revision == rev + 1
    assert sm.range(b"y").kvs[0].value == b"2"
    assert isinstance(sm.apply({"t": "keepalive", "id": lease_id}).result, LeaseNotFound)


def test_expire_applies_only_if_no_keepalive_committed_since() -> None:
    sm = KVStateMachine()
    lease_id = sm.apply({"t": "grant", "ttl": 5}).result.id  # type: ignore[union-attr]
    put(sm, b"x", b"1", lease=lease_id)
    sm.apply({"t": "keepalive", "id": lease_id})
    stale = sm.apply({"t": "expire", "leases": [[lease_id, 0]]})
    assert stale.events == [] and lease_id in sm.leases
    fresh = sm.apply({"t": "expire", "leases": [[lease_id, 1]]})
    assert [e.type for e in fresh.events] == ["DELETE"] and lease_id not in sm.leases


def test_history_and_compaction() -> None:
    sm = KVStateMachine()
    for i in range(10):
        put(sm, b"k", b"%d" % i)
    assert [e.revision for e in sm.events_since(5, b"k")] == list(range(5, 12))
    sm.apply({"t": "compact", "rev": 8})
    with pytest.raises(CompactedError) as info:
        sm.events_since(7, b"k")
    assert info.value.compact_revision == 8
    assert [e.revision for e in sm.events_since(8, b"k")] == [8, 9, 10, 11]
    assert isinstance(sm.apply({"t": "compact", "rev": 8}).result, CompactedError)
    assert isinstance(sm.apply({"t": "compact", "rev": 99}).result, FutureRevisionError)


def test_request_id_applies_at_most_once() -> None:
    sm = KVStateMachine()
    first = put(sm, b"k", b"1", rid=b"r1")
    second = put(sm, b"k", b"1", rid=b"r1")
    assert first == second and sm.revision == 2 and sm.range(b"k").kvs[0].version == 1


def test_invalid_command_is_an_error_result_and_writes_nothing() -> None:
    sm = KVStateMachine()
    result = sm.apply({"t": "txn", "ok": [["put", b"", b"v", 0, False]]}).result
    assert isinstance(result, InvalidRequest) and result.field == "ok[0].key"
    assert sm.revision == 1 and len(sm.kv) == 0


def test_same_commands_give_same_state_and_snapshot_round_trips() -> None:
    commands = [{"t": "grant", "ttl": 3}, {"t": "txn", "ok": [["put", b"a", b"1", 1, False]]},
                {"t": "txn", "ok": [["put", b"b", b"2", 1, False], ["put", b"c", b"3", 0, False]]},
                {"t": "txn", "rid": b"x", "ok": [["del", b"a", b"b", False]]},
                {"t": "txn", "rid": b"bad", "ok": [["put", b"z", b"", 42, False]]},
                {"t": "revoke", "id": 1}]
    first, second = KVStateMachine(), KVStateMachine()
    for cmd in commands:
        a, b = first.apply(cmd).result, second.apply(cmd).result
        assert (a.to_wire() == b.to_wire()) if isinstance(a, LeaseNotFound) else a == b
    assert first.digest() == second.digest()
    restored = pickle.loads(pickle.dumps(first))
    assert restored.digest() == first.digest()
    assert restored.events_since(1, b"\0", b"\0") == first.events_since(1, b"\0", b"\0")
    cached = restored.apply({"t": "txn", "rid": b"bad", "ok": [["put", b"z", b"", 0, False]]}).result
    assert isinstance(cached, LeaseNotFound) and "42" in cached.message  # the first outcome, from the cache
    assert b"z" not in restored.kv


def test_request_cache_holds_no_objects_for_the_garbage_collector_and_reads_older_snapshots() -> None:
    sm = KVStateMachine()
    gc.collect()
    before = len(gc.get_objects())
    for i in range(3000):
        put(sm, b"k%d" % i, b"v", rid=b"r%d" % i)
    gc.collect()
    assert len(gc.get_objects()) - before < 300  # was 3 tracked objects (result, list, put result) per write
    again = sm.apply({"t": "txn", "rid": b"r7", "ok": [["put", b"k7", b"other", 0, False]]}).result
    assert isinstance(again, TxnResult) and again.revision == 9 and sm.range(b"k7").kvs[0].value == b"v"
    sm.requests[b"old"] = TxnResult(True, 5, [PutResult()])  # type: ignore[assignment]  # an older snapshot's entry
    assert sm.apply({"t": "txn", "rid": b"old", "ok": []}).result == TxnResult(True, 5, [PutResult()])


def test_range_at_a_past_revision_undoes_later_events() -> None:
    from raftkube.store.past_reads import range_at

    sm = KVStateMachine()
    for i in range(4):
        put(sm, b"p/%d" % i, b"v%d" % i)          # revisions 2..5
    at = sm.revision
    put(sm, b"p/1", b"changed")                    # 6
    sm.apply({"t": "txn", "ok": [["del", b"p/2", b"", False]]})  # 7
    put(sm, b"p/9", b"new")                        # 8
    then = range_at(sm, at, b"p/", b"p0")
    assert [(kv.key, kv.value, kv.mod_revision) for kv in then.kvs] == [
        (b"p/0", b"v0", 2), (b"p/1", b"v1", 3), (b"p/2", b"v2", 4), (b"p/3", b"v3", 5)]
    page = range_at(sm, at, b"p/", b"p0", limit=2)
    assert [kv.key for kv in page.kvs] == [b"p/0", b"p/1"] and page.more and page.count == 4
    assert range_at(sm, sm.revision, b"p/", b"p0").count == 4  # now: p/0, p/1, p/3, p/9
    assert range_at(sm, 6, b"p/2").kvs[0].value == b"v2"
    sm.apply({"t": "compact", "rev": 7})
    with pytest.raises(CompactedError):
        range_at(sm, at, b"p/", b"p0")
    with pytest.raises(FutureRevisionError):
        range_at(sm, sm.revision + 1, b"p/")
