"""Range reads at a past revision, rebuilt from the current state and the event history.

The state machine keeps only the current value of each key, plus every put/delete since the
compaction revision with the value it replaced. The state at revision R is the current state
with every event newer than R undone, newest first; only the keys those events touch differ,
so a read at R costs the plain range plus the events since R. A revision older than the
compaction revision can no longer be rebuilt: `CompactedError`, as etcd answers.
"""

from __future__ import annotations

import bisect
import heapq
from typing import TYPE_CHECKING

from .errors import CompactedError, FutureRevisionError
from .types import KeyValue, RangeResult

if TYPE_CHECKING:
    from .mvcc import KVStateMachine, StoredValue


def _in_range(k: bytes, key: bytes, end: bytes) -> bool:
    if not end:
        return k == key
    if end == b"\0":
        return k >= key
    return key <= k < end


def range_at(sm: KVStateMachine, revision: int, key: bytes, end: bytes = b"", limit: int = 0,
             keys_only: bool = False, count_only: bool = False) -> RangeResult:
    if revision > sm.revision:
        raise FutureRevisionError(revision, sm.revision)
    if revision < sm.compact_revision:
        raise CompactedError(revision, sm.compact_revision)
    # value at `revision` of every key changed since: the `previous` of its oldest later event
    at_revision: dict[bytes, StoredValue | None] = {}
    start = bisect.bisect_left(sm.history, (revision + 1,))
    for rec in reversed(sm.history[start:]):
        if _in_range(rec[2], key, end):
            at_revision[rec[2]] = rec[7]
    if not at_revision:
        result = sm.range(key, end, limit, keys_only, count_only)
        return RangeResult(result.kvs, result.count, result.more, sm.revision)
    current = [key] if not end else list(sm._keys_in(key, end))
    changed = sorted(at_revision)
    merged: list[tuple[bytes, StoredValue]] = []
    for k in heapq.merge((k for k in current if k not in at_revision), changed):
        stored = at_revision[k] if k in at_revision else sm.kv.get(k)
        if stored is not None:
            merged.append((k, stored))
    count = len(merged)
    if count_only:
        return RangeResult([], count, False, sm.revision)
    taken = merged if limit <= 0 else merged[:limit]
    kvs = [KeyValue(k, b"" if keys_only else s[0], s[1], s[2], s[3], s[4]) for k, s in taken]
    return RangeResult(kvs, count, len(taken) < count, sm.revision)
