"""Store bugs the stateful machine found, pinned by plain tests: an expire naming a lease twice, the
revision a range in a txn reports, fields of unhashable type."""

from __future__ import annotations

from raftkube.store import (
    InvalidRequest,
    LeaseInfo,
    PutOp,
    RangeOp,
    RangeResult,
    TxnResult,
)
from raftkube.store.mvcc import KVStateMachine
from raftkube.store.types import txn_result_from_wire, txn_result_to_wire


# ------------------------------------------------------------- bugs found by the machine
def test_expire_naming_a_lease_twice_revokes_it_once() -> None:
    """A repeated id in `expire` must not crash apply half-way (keys deleted, revision not bumped)."""
    sm = KVStateMachine()
    lease = sm.apply({"t": "grant", "ttl": 60}).result
    assert isinstance(lease, LeaseInfo)
    sm.apply({"t": "txn", "ok": [PutOp(b"k", b"v", lease.id).to_wire()]})
    applied = sm.apply({"t": "expire", "leases": [[lease.id, 0], [lease.id, 0]]})
    assert applied.result == {"revision": 3, "expired": 1}
    assert [(e.type, e.kv.key, e.revision) for e in applied.events] == [("DELETE", b"k", 3)]
    assert sm.revision == 3 and not sm.kv and not sm.leases


def test_range_in_txn_reports_the_revision_it_read_at() -> None:
    """Same answer in-process and over the wire: a read before the txn's first write saw the old
    revision, a read after it saw the new one (etcd's rule)."""
    sm = KVStateMachine()
    result = sm.apply({"t": "txn", "ok": [RangeOp(b"k").to_wire(), PutOp(b"k", b"v").to_wire(),
                                          RangeOp(b"k").to_wire()]}).result
    assert isinstance(result, TxnResult) and result.revision == 2
    for answer in (result, txn_result_from_wire(txn_result_to_wire(result))):
        before, _, after = answer.responses
        assert isinstance(before, RangeResult) and isinstance(after, RangeResult)
        assert (before.kvs, before.revision) == ([], 1)
        assert after.revision == 2 == after.kvs[0].mod_revision


def test_fields_of_unhashable_type_are_invalid_requests() -> None:
    """A list where a name is expected is InvalidRequest(field), not a TypeError out of apply."""
    sm = KVStateMachine()
    for cmd, field in [({"t": ["txn"]}, "t"),
                       ({"t": "txn", "cmp": [["cmp", b"k", ["mod"], "=", 0]]}, "cmp[0].target"),
                       ({"t": "txn", "cmp": [["cmp", b"k", "mod", ["="], 0]]}, "cmp[0].op")]:
        result = sm.apply(cmd).result
        assert isinstance(result, InvalidRequest) and result.field == field, (cmd, result)
    assert sm.revision == 1
