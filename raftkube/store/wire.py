"""msgpack encoding of results, watch responses and errors for the replica's HTTP port."""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import StoreError, error_from_wire
from .mvcc import Outcome
from .types import Event, KeyValue, LeaseInfo, RangeResult, TxnResult, txn_result_from_wire, txn_result_to_wire
from .watch_hub import WatchResponse

CONTENT_TYPE = "application/msgpack"


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)


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


def range_to_wire(r: RangeResult) -> dict[str, Any]:
    return {"kvs": [kv.to_wire() for kv in r.kvs], "count": r.count, "more": r.more, "revision": r.revision}


def range_from_wire(w: dict[str, Any]) -> RangeResult:
    return RangeResult([KeyValue(*kv) for kv in w["kvs"]], w["count"], w["more"], w["revision"])


def watch_response_to_wire(r: WatchResponse) -> dict[str, Any]:
    return {"events": [e.to_wire() for e in r.events], "revision": r.revision, "progress": r.progress}


def watch_response_from_wire(w: dict[str, Any]) -> WatchResponse:
    return WatchResponse([Event.from_wire(e) for e in w["events"]], w["revision"], w["progress"])
