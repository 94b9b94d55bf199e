"""The backend byte quota (etcd's --quota-backend-bytes and its NOSPACE alarm), decided inside apply.

The state machine keeps a *logical* size: every live key and every history record counts
`len(key) + len(value) + ENTRY_OVERHEAD` bytes. It is a pure function of the applied log (no
memory measurement, no clock), so every replica refuses exactly the same writes. A transaction
whose puts would grow the size past the quota is refused with `NoSpace` (etcd's "mvcc: database
space exceeded"); reads, deletes, lease revocations and compactions always apply, and shrinking
or same-size puts still do. Deleting objects frees their live bytes at once and their history
once compacted: the leader compacts harder while the size is near the quota (maintenance.py).

The quota itself is replicated state: the leader submits `{"t": "quota", "bytes": n}` when the
applied quota differs from its `--quota-backend-bytes`, so replicas never decide on different
limits. Until then DEFAULT_QUOTA_BYTES applies.

DEFAULT_QUOTA_BYTES is 1 GiB, half etcd's 2 GiB: this store is in memory, where a logical byte costs
two to three bytes of Python objects, every replica holds the whole store, a snapshot forks the
process (copy-on-write), and PySyncObj's journal offsets stop at 4 GiB. On this 24 GiB, 2-core
machine three local replicas at the quota hold about 9 GiB.
"""

from __future__ import annotations

from typing import Any

from .errors import NoSpace as NoSpace  # re-exported: the error this module's check raises

DEFAULT_QUOTA_BYTES = 1024 * 1024 * 1024
ENTRY_OVERHEAD = 64  # bytes counted per key and per history record beyond its key and value
PRESSURE_FRACTION = 0.9  # at this share of the quota the leader compacts harder
PRESSURE_KEEP_REVISIONS = 100  # ... keeping only this many revisions of history (behind watchers relist)


def entry_size(key: bytes, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


def put_growth(kv: Any, ops: list[Any]) -> int:
    """How many logical bytes a transaction's puts add (live value change plus one history record each)."""
    growth = 0
    for op in ops:
        if op[0] != "put":
            continue
        key, value = op[1], op[2]
        prev = kv.get(key)
        growth += entry_size(key, value) * 2 - (entry_size(key, prev[0]) if prev is not None else 0)
    return growth


def history_size(records: Any) -> int:
    return sum(entry_size(r[2], r[3]) for r in records)


def live_size(kv: Any) -> int:
    return sum(entry_size(k, stored[0]) for k, stored in kv.items())
