"""A plain in-memory model of the store's key-value semantics, for the stateful tests.

Written from the API contract (docstrings of `raftkube.store.types`, DESIGN.md, etcd), not
from `mvcc.py`: a dict of keys, a dict of leases and the list of every event. Each write
returns the answer the store must give (a result or a `StoreError`) and the events it must
publish; each read returns the exact answer. Revisions are absolute: a model starts from the
store's revision and compact revision at the moment it is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from raftkube.store.errors import CompactedError, FutureRevisionError, InvalidRequest, LeaseNotFound, StoreError
from raftkube.store.types import (
    Compare,
    DeleteOp,
    DeleteResult,
    Event,
    KeyValue,
    LeaseInfo,
    OpResult,
    PutOp,
    PutResult,
    RangeOp,
    RangeResult,
    RequestOp,
    TxnResult,
)


@dataclass(frozen=True)
class Entry:
    """One live key: its value and its bookkeeping."""

    value: bytes
    create: int
    mod: int
    version: int
    lease: int

    def to_kv(self, key: bytes) -> KeyValue:
        return KeyValue(key, self.value, self.create, self.mod, self.version, self.lease)


@dataclass
class ModelLease:
    ttl: int
    renewals: int = 0


def in_range(k: bytes, key: bytes, end: bytes) -> bool:
    """`end` empty: the key alone; `end == b"\\0"`: every key >= key; else [key, end)."""
    if end == b"":
        return k == key
    if end == b"\0":
        return k >= key
    return key <= k < end


def strip_prev(events: list[Event]) -> list[Event]:
    return [Event(e.type, e.kv, None) for e in events]


class KVModel:
    def __init__(self, revision: int = 1, compact_revision: int = 1, last_auto_lease: int = 0,
                 exact_lease_ids: bool = True) -> None:
        self.revision = revision
        self.compact_revision = compact_revision
        self.kv: dict[bytes, Entry] = {}
        self.events: list[Event] = []  # every event since the model was made, never compacted away
        self.leases: dict[int, ModelLease] = {}
        self.known_leases: set[int] = set()  # every id granted here, live or gone
        self.last_auto_lease = last_auto_lease
        self.exact_lease_ids = exact_lease_ids

    # ------------------------------------------------------------------ reads
    def get(self, key: bytes) -> KeyValue | None:
        entry = self.kv.get(key)
        return None if entry is None else entry.to_kv(key)

    def keys_in(self, key: bytes, end: bytes, state: dict[bytes, Entry] | None = None) -> list[bytes]:
        return sorted(k for k in (self.kv if state is None else state) if in_range(k, key, end))

    def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
              count_only: bool = False, state: dict[bytes, Entry] | None = None) -> RangeResult:
        """A read of the current state (or of `state`), answered at the current revision."""
        state = self.kv if state is None else state
        keys = self.keys_in(key, end, state)
        count = len(keys)
        if count_only:
            return RangeResult([], count, False, self.revision)
        shown = keys[:limit] if end and limit > 0 else keys  # a single-key read ignores the limit
        kvs = []
        for k in shown:
            e = state[k]
            kvs.append(KeyValue(k, b"" if keys_only else e.value, e.create, e.mod, e.version, e.lease))
        return RangeResult(kvs, count, len(shown) < count, self.revision)

    def state_at(self, revision: int) -> dict[bytes, Entry]:
        """The keys as they were at `revision`, replayed from the events (the model's keys were
        all written after it started)."""
        state: dict[bytes, Entry] = {}
        for e in self.events:
            if e.revision > revision:
                break
            if e.type == "PUT":
                state[e.kv.key] = Entry(e.kv.value, e.kv.create_revision, e.kv.mod_revision, e.kv.version, e.kv.lease)
            else:
                state.pop(e.kv.key, None)
        return state

    def range_at(self, revision: int, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
                 count_only: bool = False) -> RangeResult | StoreError:
        """A read at a past revision: as etcd, answered with the current revision in the header."""
        if revision > self.revision:
            return FutureRevisionError(revision, self.revision)
        if revision < self.compact_revision:
            return CompactedError(revision, self.compact_revision)
        return self.range(key, end, limit, keys_only, count_only, self.state_at(revision))

    def lease_keys(self, lease_id: int) -> list[bytes]:
        return sorted(k for k, e in self.kv.items() if e.lease == lease_id)

    def lease_infos(self) -> list[LeaseInfo]:
        return [LeaseInfo(i, lease.ttl, self.lease_keys(i)) for i, lease in sorted(self.leases.items())]

    def watch_start(self, start_revision: int) -> int:
        """The first revision a watch opened now with `start_revision` delivers."""
        return self.revision + 1 if start_revision == 0 else start_revision

    def watch_error(self, start_revision: int) -> StoreError | None:
        if 0 < start_revision < self.compact_revision:
            return CompactedError(start_revision, self.compact_revision)
        return None

    def watch_events(self, start: int, key: bytes, end: bytes, prev_kv: bool) -> list[Event]:
        """Every event a watch from revision `start` on [key, end) has seen by now, in order."""
        chosen = [e for e in self.events if e.revision >= start and in_range(e.kv.key, key, end)]
        return chosen if prev_kv else strip_prev(chosen)

    # ----------------------------------------------------------------- writes
    def _compare(self, c: Compare) -> bool:
        entry = self.kv.get(c.key)
        if c.target == "value":
            if entry is None:  # a missing key has no value: every value compare is false
                return False
            actual: int | bytes = entry.value
        else:
            fields = {"version": "version", "create": "create", "mod": "mod", "lease": "lease"}
            actual = 0 if entry is None else getattr(entry, fields[c.target])
        operand = c.operand
        if c.op == "=":
            return actual == operand
        if c.op == "!=":
            return actual != operand
        if c.op == "<":
            return actual < operand  # type: ignore[operator]
        return actual > operand  # type: ignore[operator]

    def txn(self, compares: list[Compare], success: list[RequestOp],
            failure: list[RequestOp]) -> tuple[TxnResult | StoreError, list[Event]]:
        """All or nothing, at one new revision if (and only if) it changes something."""
        succeeded = all(self._compare(c) for c in compares)
        ops = success if succeeded else failure
        for op in ops:
            if isinstance(op, PutOp) and op.lease != 0 and op.lease not in self.leases:
                return LeaseNotFound(op.lease), []
        rev = self.revision + 1
        events: list[Event] = []
        responses: list[OpResult] = []
        for op in ops:
            if isinstance(op, RangeOp):
                # a read sees the writes of the ops before it, and reports the revision it saw (as etcd does)
                r = self.range(op.key, op.range_end, op.limit, op.keys_only, op.count_only)
                responses.append(RangeResult(r.kvs, r.count, r.more, rev if events else self.revision))
            elif isinstance(op, PutOp):
                prev = self.kv.get(op.key)
                entry = Entry(op.value, rev if prev is None else prev.create, rev,
                              1 if prev is None else prev.version + 1, op.lease)
                self.kv[op.key] = entry
                prev_kv = None if prev is None else prev.to_kv(op.key)
                events.append(Event("PUT", entry.to_kv(op.key), prev_kv))
                responses.append(PutResult(prev_kv if op.prev_kv else None))
            else:
                assert isinstance(op, DeleteOp)
                gone = self.keys_in(op.key, op.range_end)
                prevs = []
                for k in gone:
                    prev_kv = self.kv.pop(k).to_kv(k)
                    prevs.append(prev_kv)
                    events.append(Event("DELETE", KeyValue(k, b"", 0, rev, 0, 0), prev_kv))
                responses.append(DeleteResult(len(gone), prevs if op.prev_kv else []))
        if events:
            self.revision = rev
            self.events.extend(events)
        return TxnResult(succeeded, self.revision, responses), events

    # ----------------------------------------------------------------- leases
    def predicted_auto_lease(self) -> int | None:
        """The id an auto-numbered grant must get, when the model knows every lease of the store."""
        if not self.exact_lease_ids:
            return None
        i = self.last_auto_lease + 1
        while i in self.leases:
            i += 1
        return i

    def grant(self, ttl: int, wanted: int, assigned: int) -> LeaseInfo | StoreError:
        """`assigned`: the id the store gave (only used when `wanted` is 0)."""
        if wanted:
            if wanted in self.leases:
                return InvalidRequest("id", f"lease {wanted} already exists")
            lease_id = wanted
        else:
            predicted = self.predicted_auto_lease()
            if predicted is not None:
                assert assigned == predicted, f"auto lease id {assigned}, expected {predicted}"
            assert assigned > self.last_auto_lease, f"auto lease id {assigned} <= earlier {self.last_auto_lease}"
            assert assigned not in self.leases, f"auto lease id {assigned} is already live"
            lease_id = assigned
            self.last_auto_lease = assigned
        self.leases[lease_id] = ModelLease(ttl)
        self.known_leases.add(lease_id)
        return LeaseInfo(lease_id, ttl, [])

    def keepalive(self, lease_id: int) -> LeaseInfo | StoreError:
        lease = self.leases.get(lease_id)
        if lease is None:
            return LeaseNotFound(lease_id)
        lease.renewals += 1
        return LeaseInfo(lease_id, lease.ttl, [])

    def _drop_leases(self, lease_ids: list[int]) -> list[Event]:
        rev = self.revision + 1
        events: list[Event] = []
        for lease_id in lease_ids:
            del self.leases[lease_id]
            for k in self.lease_keys(lease_id):
                prev_kv = self.kv.pop(k).to_kv(k)
                events.append(Event("DELETE", KeyValue(k, b"", 0, rev, 0, 0), prev_kv))
        if events:
            self.revision = rev
            self.events.extend(events)
        return events

    def revoke(self, lease_id: int) -> tuple[dict[str, int] | StoreError, list[Event]]:
        if lease_id not in self.leases:
            return LeaseNotFound(lease_id), []
        events = self._drop_leases([lease_id])
        return {"revision": self.revision}, events

    def expire(self, pairs: list[tuple[int, int]]) -> tuple[dict[str, int], list[Event]]:
        """The leader's expiry: a lease goes only if it still has the renewal count the leader saw."""
        due: list[int] = []
        for lease_id, renewals in pairs:
            lease = self.leases.get(lease_id)
            if lease is not None and lease.renewals == renewals and lease_id not in due:
                due.append(lease_id)
        events = self._drop_leases(due)
        return {"revision": self.revision, "expired": len(due)}, events

    # ------------------------------------------------------------- compaction
    def compact(self, rev: int) -> int | StoreError:
        if rev > self.revision:
            return FutureRevisionError(rev, self.revision)
        if rev <= self.compact_revision:
            return CompactedError(rev, self.compact_revision)
        self.compact_revision = rev
        return rev


def same_error(actual: BaseException, expected: StoreError) -> str | None:
    """None if `actual` is the error `expected` (type and details), else what differs."""
    if type(actual) is not type(expected):
        return f"{type(actual).__name__}({actual}) raised, expected {type(expected).__name__}({expected})"
    assert isinstance(actual, StoreError)
    if isinstance(expected, InvalidRequest):
        assert isinstance(actual, InvalidRequest)
        if actual.field != expected.field:
            return f"InvalidRequest names field {actual.field!r}, expected {expected.field!r} ({actual})"
        return None
    for name, value in expected.details.items():
        if actual.details.get(name) != value:
            return f"{type(actual).__name__} details {actual.details}, expected {expected.details}"
    return None
