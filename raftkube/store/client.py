"""The async store client: one API, in-process (`LocalClient`) or over HTTP (`http_client`).

Subclasses implement a few primitives (`execute`, `range`, `leases`, `watch`, `status`,
membership); the convenience calls (get, put, delete, txn, leases, compact) are built on
them here once. Every write carries a fresh request id, so a retry after an unknown outcome
applies at most once.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import Any, AsyncIterator, Sequence

from .errors import StoreError
from .mvcc import Outcome
from .replica import StoreReplica
from .types import (
    Compare,
    DeleteOp,
    DeleteResult,
    KeyValue,
    LeaseInfo,
    PutOp,
    PutResult,
    RangeOp,
    RangeResult,
    RequestOp,
    TxnResult,
    prefix_end,
)
from .watch_hub import WatchResponse


def new_request_id() -> bytes:
    return uuid.uuid4().bytes


class StoreClient(ABC):
    # ------------------------------------------------------------ primitives
    @abstractmethod
    async def execute(self, cmd: dict[str, Any]) -> Outcome: ...

    @abstractmethod
    async def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
                    count_only: bool = False, serializable: bool = False, revision: int = 0) -> RangeResult:
        """Keys in [key, end) now, or at a past `revision` (CompactedError once it is compacted)."""

    @abstractmethod
    async def leases(self, serializable: bool = False) -> list[LeaseInfo]: ...

    @abstractmethod
    def watch(self, key: bytes, end: bytes = b"", start_revision: int = 0,
              prev_kv: bool = False) -> AsyncIterator[WatchResponse]: ...

    @abstractmethod
    async def status(self) -> dict[str, Any]: ...

    @abstractmethod
    async def add_member(self, raft_addr: str) -> None: ...

    @abstractmethod
    async def remove_member(self, raft_addr: str) -> None: ...

    async def close(self) -> None:
        return None

    # ---------------------------------------------------------- conveniences
    async def get(self, key: bytes, serializable: bool = False) -> KeyValue | None:
        result = await self.range(key, serializable=serializable)
        return result.kvs[0] if result.kvs else None

    async def get_prefix(self, prefix: bytes, limit: int = 0, serializable: bool = False) -> RangeResult:
        return await self.range(prefix, prefix_end(prefix), limit, serializable=serializable)

    async def txn(self, compares: Sequence[Compare] = (), success: Sequence[RequestOp] = (),
                  failure: Sequence[RequestOp] = ()) -> TxnResult:
        result = await self.execute({"t": "txn", "rid": new_request_id(),
                                     "cmp": [c.to_wire() for c in compares],
                                     "ok": [op.to_wire() for op in success],
                                     "fail": [op.to_wire() for op in failure]})
        assert isinstance(result, TxnResult)
        return result

    async def put(self, key: bytes, value: bytes, lease: int = 0, prev_kv: bool = False) -> tuple[int, PutResult]:
        """Put a value; returns (revision, result)."""
        result = await self.txn(success=[PutOp(key, value, lease, prev_kv)])
        put = result.responses[0]
        assert isinstance(put, PutResult)
        return result.revision, put

    async def delete(self, key: bytes, range_end: bytes = b"", prev_kv: bool = False) -> tuple[int, DeleteResult]:
        result = await self.txn(success=[DeleteOp(key, range_end, prev_kv)])
        deleted = result.responses[0]
        assert isinstance(deleted, DeleteResult)
        return result.revision, deleted

    async def delete_prefix(self, prefix: bytes) -> tuple[int, DeleteResult]:
        return await self.delete(prefix, prefix_end(prefix))

    async def compare_and_swap(self, key: bytes, mod_revision: int, value: bytes) -> TxnResult:
        """Put `value` only if the key's mod_revision is still `mod_revision` (0: key absent)."""
        return await self.txn([Compare(key, "mod", "=", mod_revision)], [PutOp(key, value)],
                              [RangeOp(key)])

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> LeaseInfo:
        result = await self.execute({"t": "grant", "rid": new_request_id(), "ttl": ttl, "id": lease_id})
        assert isinstance(result, LeaseInfo)
        return result

    async def lease_keepalive(self, lease_id: int) -> LeaseInfo:
        result = await self.execute({"t": "keepalive", "rid": new_request_id(), "id": lease_id})
        assert isinstance(result, LeaseInfo)
        return result

    async def lease_revoke(self, lease_id: int) -> int:
        result = await self.execute({"t": "revoke", "rid": new_request_id(), "id": lease_id})
        assert isinstance(result, dict)
        return result["revision"]

    async def compact(self, revision: int) -> int:
        result = await self.execute({"t": "compact", "rid": new_request_id(), "rev": revision})
        assert isinstance(result, dict)
        return result["compact_revision"]


class LocalClient(StoreClient):
    """The client for code running in the replica's own process and event loop."""

    def __init__(self, replica: StoreReplica) -> None:
        self.replica = replica

    async def execute(self, cmd: dict[str, Any]) -> Outcome:
        return await self.replica.execute(cmd)

    async def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
                    count_only: bool = False, serializable: bool = False, revision: int = 0) -> RangeResult:
        return await self.replica.range(key, end, limit, keys_only, count_only, serializable, revision)

    async def leases(self, serializable: bool = False) -> list[LeaseInfo]:
        return await self.replica.leases(serializable)

    async def watch(self, key: bytes, end: bytes = b"", start_revision: int = 0,
                    prev_kv: bool = False) -> AsyncIterator[WatchResponse]:
        watcher = self.replica.watch(key, end, start_revision, prev_kv)
        try:
            async for response in watcher:
                yield response
        finally:
            watcher.close()

    async def status(self) -> dict[str, Any]:
        return self.replica.status()

    async def add_member(self, raft_addr: str) -> None:
        await self.replica.add_member(raft_addr)

    async def remove_member(self, raft_addr: str) -> None:
        await self.replica.remove_member(raft_addr)


__all__ = ["StoreClient", "LocalClient", "StoreError", "new_request_id"]
