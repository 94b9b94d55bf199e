"""msgpack encoding of results, watch responses and errors for the replica's HTTP port.

(Outcomes of writes are encoded by `mvcc`, whose request cache keeps them encoded.)
"""

from __future__ import annotations

from typing import Any

import msgpack

from .mvcc import lease_from_wire, lease_to_wire, outcome_from_wire, outcome_to_wire
from .types import Event, KeyValue, RangeResult
from .watch_hub import WatchResponse

__all__ = ["CONTENT_TYPE", "lease_from_wire", "lease_to_wire", "outcome_from_wire", "outcome_to_wire", "pack",
           "range_from_wire", "range_to_wire", "unpack", "watch_response_from_wire", "watch_response_to_wire"]

CONTENT_TYPE = "application/msgpack"


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)


def range_to_wire(r: RangeResult) -> dict[str, Any]:
    return {"kvs": [kv.to_wire() for kv in r.kvs], "count": r.count, "more": r.more, "revision": r.revision}


def range_from_wire(w: dict[str, Any]) -> RangeResult:
    return RangeResult([KeyValue(*kv) for kv in w["kvs"]], w["count"], w["more"], w["revision"])


def watch_response_to_wire(r: WatchResponse) -> dict[str, Any]:
    return {"events": [e.to_wire() for e in r.events], "revision": r.revision, "progress": r.progress}


def watch_response_from_wire(w: dict[str, Any]) -> WatchResponse:
    return WatchResponse([Event.from_wire(e) for e in w["events"]], w["revision"], w["progress"])
