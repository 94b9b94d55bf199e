"""The deterministic MVCC state machine behind every store replica.

One global revision, bumped once per write transaction that changes something; per key
`create_revision`, `mod_revision`, `version` and `lease`; a bounded history of put/delete
events for watches; leases whose expiry is decided outside and arrives as a command.

`apply` is a pure function of (state, command): no clock, no randomness, no iteration over
unordered sets. Errors are returned (not raised) so that every replica records the same
outcome for the same log entry. The whole object is pickled into Raft snapshots. Writes
that would grow the logical size past the replicated quota are refused (quota.py).
"""

from __future__ import annotations

import bisect
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgpack
from sortedcontainers import SortedDict

from . import quota
from .errors import CompactedError, FutureRevisionError, InvalidRequest, LeaseNotFound, StoreError, error_from_wire
from .types import (
    DeleteResult,
    Event,
    KeyValue,
    LeaseInfo,
    OpResult,
    PutResult,
    RangeResult,
    TxnResult,
    txn_result_from_wire,
    txn_result_to_wire,
)
from .validation import check_command

# A stored value: (value, create_revision, mod_revision, version, lease)
StoredValue = tuple[bytes, int, int, int, int]
# A history record: (revision, is_delete, key, value, create_revision, version, lease, previous)
HistoryRecord = tuple[int, bool, bytes, bytes, int, int, int, "StoredValue | None"]
Outcome = TxnResult | LeaseInfo | dict[str, int] | StoreError | list[Any] | None  # list: a batch's results

PUT, DELETE = False, True


@dataclass(slots=True)
class LeaseRecord:
    ttl: int
    renewals: int = 0
    keys: set[bytes] = field(default_factory=set)


@dataclass(slots=True)
class Applied:
    """What one command did: its result (or error) and the events it produced."""

    result: Outcome
    events: list[Event]


def _kv(key: bytes, stored: StoredValue) -> KeyValue:
    return KeyValue(key, stored[0], stored[1], stored[2], stored[3], stored[4])


def record_to_event(rec: HistoryRecord) -> Event:
    rev, is_delete, key, value, create, version, lease, prev = rec
    prev_kv = None if prev is None else _kv(key, prev)
    if is_delete:
        return Event("DELETE", KeyValue(key, b"", 0, rev, 0, 0), prev_kv)
    return Event("PUT", KeyValue(key, value, create, rev, version, lease), prev_kv)


class KVStateMachine:
    # class-level defaults: a state machine unpickled from a snapshot older than the quota gets them
    quota_bytes: int = quota.DEFAULT_QUOTA_BYTES
    _size: int | None = None  # the logical size (quota.py); None: count it again on first use

    def __init__(self, request_cache_size: int = 50_000) -> None:
        self.revision = 1
        self.compact_revision = 1
        self.kv: SortedDict = SortedDict()  # bytes -> StoredValue
        self.history: list[HistoryRecord] = []
        self.leases: dict[int, LeaseRecord] = {}
        self.next_lease_id = 1
        # request id -> its outcome, msgpack-encoded: bytes are invisible to the cyclic garbage collector, whose
        # full passes over 150,000 cached result objects were the writes' p99 latency (40-100 ms)
        self.requests: OrderedDict[bytes, bytes] = OrderedDict()
        self.request_cache_size = request_cache_size
        self.quota_bytes = quota.DEFAULT_QUOTA_BYTES
        self._size = 0

    @property
    def size_bytes(self) -> int:
        """The logical size the quota is decided on: live keys plus history records."""
        if self._size is None:
            self._size = quota.live_size(self.kv) + quota.history_size(self.history)
        return self._size

    def recount_size(self) -> None:
        """Count the size again (after the fields were set directly, as a restore does)."""
        self._size = None

    # ----------------------------------------------------------------- apply
    def apply(self, cmd: Any) -> Applied:
        try:
            check_command(cmd)
        except InvalidRequest as err:
            return Applied(err, [])
        if cmd["t"] == "batch":  # each command as if it were its own log entry; results in order
            results: list[Outcome] = []
            all_events: list[Event] = []
            for sub in cmd["cmds"]:
                one = self.apply(sub)
                results.append(one.result)
                all_events.extend(one.events)
            return Applied(results, all_events)
        rid = cmd.get("rid")
        if rid is not None and rid in self.requests:
            return Applied(_cached_outcome(self.requests[rid]), [])
        events: list[Event] = []
        result = self._dispatch(cmd, events)
        if rid is not None:
            self.requests[rid] = msgpack.packb(outcome_to_wire(result), use_bin_type=True)
            if len(self.requests) > self.request_cache_size:
                self.requests.popitem(last=False)
        return Applied(result, events)

    def _dispatch(self, cmd: dict[str, Any], events: list[Event]) -> Outcome:
        kind = cmd["t"]
        if kind == "txn":
            return self._txn(cmd, events)
        if kind == "grant":
            return self._grant(cmd["ttl"], cmd.get("id", 0))
        if kind == "keepalive":
            lease = self.leases.get(cmd["id"])
            if lease is None:
                return LeaseNotFound(cmd["id"])
            lease.renewals += 1
            return LeaseInfo(cmd["id"], lease.ttl)
        if kind == "revoke":
            if cmd["id"] not in self.leases:
                return LeaseNotFound(cmd["id"])
            self._revoke([cmd["id"]], events)
            return {"revision": self.revision}
        if kind == "expire":
            due = list(dict.fromkeys(  # a lease named twice is revoked once
                i for i, renewals in cmd["leases"] if i in self.leases and self.leases[i].renewals == renewals))
            self._revoke(due, events)
            return {"revision": self.revision, "expired": len(due)}
        if kind == "compact":
            return self._compact(cmd["rev"])
        if kind == "quota":
            self.quota_bytes = cmd["bytes"]
            return {"revision": self.revision, "quota": self.quota_bytes}
        return {"revision": self.revision}  # noop: a read barrier

    # ------------------------------------------------------------------- txn
    def _txn(self, cmd: dict[str, Any], events: list[Event]) -> TxnResult | StoreError:
        succeeded = all(self._compare(c) for c in cmd.get("cmp", []))
        ops = cmd.get("ok" if succeeded else "fail", [])
        for op in ops:
            if op[0] == "put" and op[3] and op[3] not in self.leases:
                return LeaseNotFound(op[3])
        growth = quota.put_growth(self.kv, ops)
        if growth > 0 and self.size_bytes + growth > self.quota_bytes:
            return quota.NoSpace(self.size_bytes, growth, self.quota_bytes)
        rev = self.revision + 1
        responses: list[OpResult] = []
        for op in ops:
            if op[0] == "range":
                read = self.range(op[1], op[2], op[3], op[4], op[5])  # sees this txn's earlier writes
                responses.append(RangeResult(read.kvs, read.count, read.more, rev if events else self.revision))
            elif op[0] == "put":
                responses.append(self._put(rev, op[1], op[2], op[3], op[4], events))
            else:
                responses.append(self._delete(rev, op[1], op[2], op[3], events))
        if events:
            self.revision = rev
        return TxnResult(succeeded, self.revision, responses)

    def _compare(self, c: list[Any]) -> bool:
        _, key, target, op, operand = c
        stored = self.kv.get(key)
        if target == "value":
            if stored is None:
                return False
            actual: int | bytes = stored[0]
        else:
            index = {"create": 1, "mod": 2, "version": 3, "lease": 4}[target]
            actual = 0 if stored is None else stored[index]
        if op == "=":
            return actual == operand
        if op == "!=":
            return actual != operand
        if op == "<":
            return actual < operand  # type: ignore[operator]
        return actual > operand  # type: ignore[operator]

    def _put(self, rev: int, key: bytes, value: bytes, lease: int, want_prev: bool,
             events: list[Event]) -> PutResult:
        prev = self.kv.get(key)
        if prev is None:
            create, version = rev, 1
        else:
            create, version = prev[1], prev[3] + 1
            if prev[4] and prev[4] != lease and prev[4] in self.leases:
                self.leases[prev[4]].keys.discard(key)
        if lease:
            self.leases[lease].keys.add(key)
        self._size = self.size_bytes + quota.entry_size(key, value) - (
            quota.entry_size(key, prev[0]) if prev is not None else 0)
        self.kv[key] = (value, create, rev, version, lease)
        self._record((rev, PUT, key, value, create, version, lease, prev), events)
        return PutResult(_kv(key, prev) if want_prev and prev is not None else None)

    def _delete(self, rev: int, key: bytes, end: bytes, want_prev: bool, events: list[Event]) -> DeleteResult:
        keys = [key] if not end and key in self.kv else list(self._keys_in(key, end)) if end else []
        prevs = []
        for k in keys:
            prev = self.kv.pop(k)
            self._size = self.size_bytes - quota.entry_size(k, prev[0])
            if prev[4] and prev[4] in self.leases:
                self.leases[prev[4]].keys.discard(k)
            self._record((rev, DELETE, k, b"", 0, 0, 0, prev), events)
            if want_prev:
                prevs.append(_kv(k, prev))
        return DeleteResult(len(keys), prevs)

    def _record(self, rec: HistoryRecord, events: list[Event]) -> None:
        self._size = self.size_bytes + quota.entry_size(rec[2], rec[3])
        self.history.append(rec)
        events.append(record_to_event(rec))

    # ---------------------------------------------------------------- leases
    def _grant(self, ttl: int, wanted_id: int) -> LeaseInfo | StoreError:
        if wanted_id:
            if wanted_id in self.leases:
                return InvalidRequest("id", f"lease {wanted_id} already exists")
            lease_id = wanted_id
        else:
            while self.next_lease_id in self.leases:
                self.next_lease_id += 1
            lease_id = self.next_lease_id
            self.next_lease_id += 1
        self.leases[lease_id] = LeaseRecord(ttl)
        return LeaseInfo(lease_id, ttl)

    def _revoke(self, lease_ids: list[int], events: list[Event]) -> None:
        rev = self.revision + 1
        for lease_id in lease_ids:
            lease = self.leases.pop(lease_id)
            for key in sorted(lease.keys):
                prev = self.kv.pop(key)
                self._size = self.size_bytes - quota.entry_size(key, prev[0])
                self._record((rev, DELETE, key, b"", 0, 0, 0, prev), events)
        if events:
            self.revision = rev

    # ------------------------------------------------------------ compaction
    def _compact(self, rev: int) -> dict[str, int] | StoreError:
        if rev > self.revision:
            return FutureRevisionError(rev, self.revision)
        if rev <= self.compact_revision:
            return CompactedError(rev, self.compact_revision)
        cut = bisect.bisect_left(self.history, (rev,))
        self._size = self.size_bytes - quota.history_size(self.history[:cut])
        del self.history[:cut]
        self.compact_revision = rev
        return {"revision": self.revision, "compact_revision": rev}

    # ----------------------------------------------------------------- reads
    def _keys_in(self, key: bytes, end: bytes) -> Any:
        if end == b"\0":
            return self.kv.irange(minimum=key)
        return self.kv.irange(key, end, inclusive=(True, False))

    def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
              count_only: bool = False) -> RangeResult:
        if not end:
            stored = self.kv.get(key)
            kvs = [] if stored is None or count_only else [_kv(key, stored)]
            return RangeResult(self._strip(kvs, keys_only), int(stored is not None), False, self.revision)
        lo = self.kv.bisect_left(key)
        hi = len(self.kv) if end == b"\0" else self.kv.bisect_left(end)
        count = max(0, hi - lo)
        if count_only:
            return RangeResult([], count, False, self.revision)
        take = count if limit <= 0 else min(limit, count)
        keys = self.kv.keys()[lo:lo + take]
        kvs = [_kv(k, self.kv[k]) for k in keys]
        return RangeResult(self._strip(kvs, keys_only), count, take < count, self.revision)

    @staticmethod
    def _strip(kvs: list[KeyValue], keys_only: bool) -> list[KeyValue]:
        if not keys_only:
            return kvs
        return [KeyValue(k.key, b"", k.create_revision, k.mod_revision, k.version, k.lease) for k in kvs]

    def events_since(self, start_rev: int, key: bytes, end: bytes = b"") -> list[Event]:
        """History events with revision >= start_rev touching [key, end); raises if compacted."""
        if start_rev < self.compact_revision:
            raise CompactedError(start_rev, self.compact_revision)
        i = bisect.bisect_left(self.history, (start_rev,))
        return [record_to_event(r) for r in self.history[i:] if key_matches(r[2], key, end)]

    def digest(self) -> str:
        """A hash of every key's value and revisions, and of the leases: equal on replicas that agree."""
        h = hashlib.sha256(b"%d/%d/" % (self.revision, self.compact_revision))
        for key, stored in self.kv.items():
            h.update(msgpack.packb([key, *stored], use_bin_type=True))
        for lease_id, lease in self.leases.items():
            h.update(msgpack.packb([lease_id, lease.ttl, lease.renewals, sorted(lease.keys)], use_bin_type=True))
        return h.hexdigest()

    def lease_list(self) -> list[LeaseInfo]:
        return [LeaseInfo(i, lr.ttl, sorted(lr.keys)) for i, lr in self.leases.items()]

    def lease_renewals(self) -> dict[int, tuple[int, int]]:
        """lease id -> (ttl, renewals): what the leader's expiry tracker needs."""
        return {i: (lr.ttl, lr.renewals) for i, lr in self.leases.items()}


def key_matches(k: bytes, key: bytes, end: bytes) -> bool:
    if not end:
        return k == key
    if end == b"\0":
        return k >= key
    return key <= k < end


def outcome_to_wire(result: Outcome) -> dict[str, Any]:
    if isinstance(result, TxnResult):
        return {"txn": txn_result_to_wire(result)}
    if isinstance(result, LeaseInfo):
        return {"lease": lease_to_wire(result)}
    if isinstance(result, StoreError):
        return result.to_wire()
    return {"info": result}


def outcome_from_wire(w: dict[str, Any]) -> Outcome:
    if "error" in w:
        return error_from_wire(w)
    if "txn" in w:
        return txn_result_from_wire(w["txn"])
    if "lease" in w:
        return lease_from_wire(w["lease"])
    return w.get("info")


def lease_to_wire(lease: LeaseInfo) -> list[Any]:
    return [lease.id, lease.ttl, lease.keys]


def lease_from_wire(w: list[Any]) -> LeaseInfo:
    return LeaseInfo(w[0], w[1], list(w[2]))


def _cached_outcome(cached: bytes | Outcome) -> Outcome:
    """A request cache entry back as an outcome (snapshots older than the encoded cache hold outcomes)."""
    if isinstance(cached, bytes):
        return outcome_from_wire(msgpack.unpackb(cached, raw=False))
    return cached
