"""Plain data types of the store's API: key-values, events, compares, request ops, results.

They convert to and from plain msgpack-friendly lists (the wire and log format) with
`to_wire` / `from_wire`, so the same shapes travel through the Raft log and over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CompareTarget = Literal["version", "create", "mod", "value", "lease"]
CompareOp = Literal["=", "!=", "<", ">"]
EventType = Literal["PUT", "DELETE"]


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    def to_wire(self) -> list[Any]:
        return [self.key, self.value, self.create_revision, self.mod_revision, self.version, self.lease]

    @classmethod
    def from_wire(cls, w: list[Any] | None) -> KeyValue | None:
        return None if w is None else cls(*w)


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    def to_wire(self) -> list[Any]:
        return [self.type, self.kv.to_wire(), None if self.prev_kv is None else self.prev_kv.to_wire()]

    @classmethod
    def from_wire(cls, w: list[Any]) -> Event:
        kv = KeyValue.from_wire(w[1])
        assert kv is not None
        return cls(w[0], kv, KeyValue.from_wire(w[2]))


@dataclass(frozen=True, slots=True)
class Compare:
    """`target(key) op operand`; a missing key has version/create/mod/lease 0 and no value."""

    key: bytes
    target: CompareTarget
    op: CompareOp
    operand: int | bytes

    def to_wire(self) -> list[Any]:
        return ["cmp", self.key, self.target, self.op, self.operand]


@dataclass(frozen=True, slots=True)
class RangeOp:
    """Read `key` alone, or `[key, range_end)`; `range_end=b"\\0"` means every key >= key."""

    key: bytes
    range_end: bytes = b""
    limit: int = 0
    keys_only: bool = False
    count_only: bool = False

    def to_wire(self) -> list[Any]:
        return ["range", self.key, self.range_end, self.limit, self.keys_only, self.count_only]


@dataclass(frozen=True, slots=True)
class PutOp:
    key: bytes
    value: bytes
    lease: int = 0
    prev_kv: bool = False

    def to_wire(self) -> list[Any]:
        return ["put", self.key, self.value, self.lease, self.prev_kv]


@dataclass(frozen=True, slots=True)
class DeleteOp:
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False

    def to_wire(self) -> list[Any]:
        return ["del", self.key, self.range_end, self.prev_kv]


RequestOp = RangeOp | PutOp | DeleteOp


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    count: int
    more: bool
    revision: int = 0


@dataclass(frozen=True, slots=True)
class PutResult:
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


OpResult = RangeResult | PutResult | DeleteResult


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int
    responses: list[OpResult]


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    id: int
    ttl: int
    keys: list[bytes] = field(default_factory=list)


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix` (etcd's GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def op_from_wire(w: list[Any]) -> RequestOp:
    kind = w[0]
    if kind == "range":
        return RangeOp(*w[1:])
    if kind == "put":
        return PutOp(*w[1:])
    if kind == "del":
        return DeleteOp(*w[1:])
    raise ValueError(f"unknown op {kind!r}")


def compare_from_wire(w: list[Any]) -> Compare:
    return Compare(w[1], w[2], w[3], w[4])


def op_result_to_wire(r: OpResult) -> list[Any]:
    if isinstance(r, RangeResult):
        return ["range", [kv.to_wire() for kv in r.kvs], r.count, r.more, r.revision]
    if isinstance(r, PutResult):
        return ["put", None if r.prev_kv is None else r.prev_kv.to_wire()]
    return ["del", r.deleted, [kv.to_wire() for kv in r.prev_kvs]]


def op_result_from_wire(w: list[Any], revision: int) -> OpResult:
    if w[0] == "range":
        return RangeResult([KeyValue(*kv) for kv in w[1]], w[2], w[3], w[4] if len(w) > 4 else revision)
    if w[0] == "put":
        return PutResult(KeyValue.from_wire(w[1]))
    return DeleteResult(w[1], [KeyValue(*kv) for kv in w[2]])


def txn_result_to_wire(r: TxnResult) -> dict[str, Any]:
    return {"succeeded": r.succeeded, "revision": r.revision,
            "responses": [op_result_to_wire(x) for x in r.responses]}


def txn_result_from_wire(w: dict[str, Any]) -> TxnResult:
    rev = w["revision"]
    return TxnResult(w["succeeded"], rev, [op_result_from_wire(x, rev) for x in w["responses"]])
