"""The state machine as a stream of msgpack records, and back: what a store backup holds.

A backup is the key space at one revision: a first record (a map) with the revision, the
compacted revision, the leases (id, TTL), the next lease id to hand out, the history records of
that revision itself, and the key count; then one record per key `[key, value, create_revision,
mod_revision, version, lease]` in key order; then a last record `{"end": count}` (a stream cut
short has no end record).

`capture` takes references under the apply lock (values are immutable bytes and tuples, so
the copy is consistent and costs one list of references, not a second copy of the data);
`encode` turns it into msgpack chunks outside the lock. `rebuild` makes a KVStateMachine whose
history was compacted at the backup's revision: a watch from an older revision is answered
"compacted" (410), never with a silent gap, and a watch from the backup's revision still sees
that revision's own events.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import msgpack
from sortedcontainers import SortedDict

from .mvcc import HistoryRecord, KVStateMachine, LeaseRecord, StoredValue

CHUNK_BYTES = 256 * 1024


class BadBackup(ValueError):
    """A backup stream that is not one: malformed, truncated, or inconsistent."""


@dataclass
class Capture:
    revision: int
    compact_revision: int
    next_lease_id: int
    leases: list[list[int]]  # [id, ttl]
    history: list[HistoryRecord]  # the records of `revision` itself
    kvs: list[tuple[bytes, StoredValue]]

    def meta(self) -> dict[str, Any]:
        return {"revision": self.revision, "compact_revision": self.compact_revision,
                "next_lease_id": self.next_lease_id, "leases": self.leases,
                "history": [list(r) for r in self.history], "count": len(self.kvs)}


def capture(sm: KVStateMachine) -> Capture:
    """The state at sm.revision; call under the replica's apply lock (it only copies references)."""
    first = bisect.bisect_left(sm.history, (sm.revision,))
    return Capture(sm.revision, sm.compact_revision, sm.next_lease_id,
                   [[lease_id, lease.ttl] for lease_id, lease in sm.leases.items()],
                   sm.history[first:], list(sm.kv.items()))


def encode(snap: Capture) -> Iterator[bytes]:
    """The capture as msgpack chunks of about CHUNK_BYTES."""
    packer = msgpack.Packer(use_bin_type=True)
    parts = [packer.pack(snap.meta())]
    size = len(parts[0])
    for key, stored in snap.kvs:
        part = packer.pack([key, *stored])
        parts.append(part)
        size += len(part)
        if size >= CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(packer.pack({"end": len(snap.kvs)}))
    yield b"".join(parts)


class RecordReader:
    """Feed stream bytes; check the records' shapes as they arrive; `finish` checks the end."""

    def __init__(self, keep: bool = False) -> None:
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=512 * 1024 * 1024)
        self.meta: dict[str, Any] | None = None
        self.count = 0
        self.ended = False
        self.keep = keep
        self.kvs: list[tuple[bytes, StoredValue]] = []
        self._last_key: bytes | None = None

    def feed(self, data: bytes) -> None:
        self._unpacker.feed(data)
        try:
            for record in self._unpacker:
                self._take(record)
        except (msgpack.UnpackException, ValueError) as exc:
            if isinstance(exc, BadBackup):
                raise
            raise BadBackup(f"not a msgpack record stream ({exc.__class__.__name__}: {exc})") from None

    def _take(self, record: Any) -> None:
        if self.ended:
            raise BadBackup("data after the end record")
        if self.meta is None:
            self.meta = _check_meta(record)
            return
        if isinstance(record, dict):
            if record.get("end") != self.count or self.count != self.meta["count"]:
                raise BadBackup(f"end record {record!r} after {self.count} keys, "
                                f"the first record announced {self.meta['count']}")
            self.ended = True
            return
        key, stored = _check_kv(record)
        if self._last_key is not None and key <= self._last_key:
            raise BadBackup(f"keys out of order at {key!r}")
        self._last_key = key
        self.count += 1
        if self.keep:
            self.kvs.append((key, stored))

    def finish(self) -> dict[str, Any]:
        if self.meta is None or not self.ended:
            raise BadBackup(f"truncated: no end record (after {self.count} keys)")
        return self.meta


def _check_meta(record: Any) -> dict[str, Any]:
    fields = {"revision", "compact_revision", "next_lease_id", "leases", "history", "count"}
    if not isinstance(record, dict) or set(record) != fields:
        raise BadBackup("the first record is not the backup's description")
    if not all(isinstance(record[f], int) for f in ("revision", "compact_revision", "next_lease_id", "count")):
        raise BadBackup("revision, compact_revision, next_lease_id and count must be integers")
    if record["revision"] < 1 or not 1 <= record["compact_revision"] <= record["revision"]:
        raise BadBackup(f"revision {record['revision']} / compacted {record['compact_revision']} are inconsistent")
    if not isinstance(record["leases"], list) or not all(
            isinstance(x, list) and len(x) == 2 and all(isinstance(v, int) for v in x) for x in record["leases"]):
        raise BadBackup("leases must be [id, ttl] pairs")
    if not isinstance(record["history"], list) or not all(_is_history_record(r) for r in record["history"]):
        raise BadBackup("history must be [revision, is_delete, key, value, create, version, lease, previous] records")
    return record


def _is_history_record(r: Any) -> bool:
    return (isinstance(r, list) and len(r) == 8 and isinstance(r[1], bool) and isinstance(r[2], bytes)
            and isinstance(r[3], bytes) and all(isinstance(v, int) for v in (r[0], r[4], r[5], r[6]))
            and (r[7] is None or (isinstance(r[7], list) and len(r[7]) == 5 and isinstance(r[7][0], bytes))))


def _check_kv(record: Any) -> tuple[bytes, StoredValue]:
    if (not isinstance(record, list) or len(record) != 6 or not isinstance(record[0], bytes)
            or not isinstance(record[1], bytes) or not all(isinstance(v, int) for v in record[2:])):
        raise BadBackup("a key record is not [key, value, create_revision, mod_revision, version, lease]")
    return record[0], (record[1], record[2], record[3], record[4], record[5])


def _history_record(r: list[Any]) -> HistoryRecord:
    prev = None if r[7] is None else tuple(r[7])
    return (r[0], r[1], r[2], r[3], r[4], r[5], r[6], prev)  # type: ignore[return-value]


def rebuild(meta: dict[str, Any], kvs: Iterable[tuple[bytes, StoredValue]]) -> KVStateMachine:
    """A state machine holding the backup, its history compacted at the backup's revision; leases
    keep their TTL and start a fresh countdown (their renewal count starts again at 0)."""
    sm = KVStateMachine()
    sm.revision = meta["revision"]
    sm.compact_revision = meta["revision"]
    sm.next_lease_id = meta["next_lease_id"]
    sm.leases = {lease_id: LeaseRecord(ttl) for lease_id, ttl in meta["leases"]}
    sm.kv = SortedDict(kvs)
    for key, stored in sm.kv.items():
        lease = stored[4]
        if lease:
            if lease not in sm.leases:
                raise BadBackup(f"key {key!r} is attached to lease {lease}, which the backup does not hold")
            sm.leases[lease].keys.add(key)
    sm.history = [_history_record(r) for r in meta["history"]]
    if any(r[0] != sm.revision for r in sm.history):
        raise BadBackup("the history records are not of the backup's revision")
    sm.recount_size()
    return sm
