"""Decoding Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to JSON form.

kubectl's typed clients (`create configmap|secret|deployment|job|namespace|service`, ...) send
built-in objects as the magic `k8s\\x00` followed by a `runtime.Unknown` envelope: typeMeta
(apiVersion, kind), raw (the object's own message), contentEncoding, contentType. The object's
fields are looked up in the schema (`TYPES` and `proto_numbers`), and the result is the dict that
Go's JSON encoding of the same object gives: bytes as base64, Time as RFC 3339, IntOrString as a
number or a string, Quantity as its string, zero values left out where Go would omit them.
Only decoding is needed: replies are JSON, which kubectl accepts too.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from .errors import APIError, bad_request
from .schema import KIND_TYPES
from .schema.proto_numbers import (
    DECODE_TYPES,
    MICRO_TIMES,
    NO_NUMBERS,
    NOT_PROTOBUF,
    NUMBERS,
    OBJECT_MESSAGES,
    RAW_JSON,
    ZERO_KEPT,
)

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {VARINT: "varint", FIXED64: "64-bit", LENGTH: "length-delimited", FIXED32: "32-bit"}
_SCALAR_WIRE = {"string": LENGTH, "integer": VARINT, "boolean": VARINT, "number": FIXED64}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

Value = int | bytes


def malformed(what: str) -> APIError:
    return bad_request(f"the protobuf request body is malformed: {what}")


# ------------------------------------------------------------------ wire format
def _varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise malformed(f"a varint runs past the end of {where}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise malformed(f"a varint in {where} is longer than 10 bytes")


def wire_fields(data: bytes, where: str) -> list[tuple[int, int, Value]]:
    """The (field number, wire type, value) triples of one message; lengths and bounds checked."""
    out: list[tuple[int, int, Value]] = []
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos, where)
        number, wire = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise malformed(f"invalid field number {number} in {where}")
        value: Value
        if wire == VARINT:
            value, pos = _varint(data, pos, where)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > end:
                raise malformed(f"field {number} of {where} runs past the end of the message")
            value, pos = int.from_bytes(data[pos:pos + size], "little"), pos + size
        elif wire == LENGTH:
            length, pos = _varint(data, pos, where)
            if pos + length > end:
                raise malformed(f"field {number} of {where} is longer than the rest of the message")
            value, pos = data[pos:pos + length], pos + length
        else:
            raise malformed(f"field {number} of {where} has unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed(f"{where} is not valid UTF-8") from None


# ------------------------------------------------------------------ plans
@dataclass(frozen=True)
class _Leaf:
    owner: str  # the type that declares the field
    name: str  # its JSON name
    type: str  # its schema type ("string", "[]T", "map[string]T", a type name, ...)
    keep_zero: bool
    micro: bool  # meta.v1.MicroTime rather than Time
    base64: bool  # bytes in protobuf, base64 in JSON
    message: str | None  # for free-form ("object") fields: the message type (or RAW_JSON)


_Plan = dict[int, "_Leaf | _Plan"]  # nested plans: messages that Go embeds inline


@cache
def _plan(type_name: str) -> _Plan:
    """Field number -> leaf (or inline sub-plan) for one message type."""
    plan: _Plan = {}
    fields = DECODE_TYPES[type_name]
    kept = ZERO_KEPT.get(type_name, frozenset())
    for name, number in NUMBERS.get(type_name, {}).items():
        field = fields[name]
        path = number if isinstance(number, tuple) else (number,)
        level = plan
        for step in path[:-1]:
            nested = level.setdefault(step, {})
            assert isinstance(nested, dict)
            level = nested
        level[path[-1]] = _Leaf(type_name, name, field.type, name in kept, (type_name, name) in MICRO_TIMES,
                                field.format == "byte", OBJECT_MESSAGES.get((type_name, name)))
    return plan


def _is_message(type_: str) -> bool:
    return type_ in DECODE_TYPES or type_ == "object"


# ------------------------------------------------------------------ decoding
def decode_message(data: bytes, type_name: str, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decode one message of `type_name` (a key of TYPES or a decode-only type) into `out`."""
    if type_name in NOT_PROTOBUF or type_name not in DECODE_TYPES:
        raise bad_request(f"{type_name} has no protobuf encoding")
    out = {} if out is None else out
    _decode_into(data, _plan(type_name), type_name, out)
    return out


def _decode_into(data: bytes, plan: _Plan, type_name: str, out: dict[str, Any]) -> None:
    for number, wire, value in wire_fields(data, type_name):
        entry = plan.get(number)
        if entry is None:
            raise bad_request(f"the protobuf request body has unknown field number {number} in {type_name}")
        if isinstance(entry, dict):  # a message embedded inline: its fields belong to this object
            _decode_into(_bytes(value, wire, f"field {number} of {type_name}"), entry, type_name, out)
        else:
            _set(out, entry, wire, value)


def _where(leaf: _Leaf) -> str:
    return f"field {leaf.name!r} of {leaf.owner}"


def _bytes(value: Value, wire: int, where: str) -> bytes:
    if wire != LENGTH or not isinstance(value, bytes):
        raise malformed(f"{where} has wire type {_WIRE_NAMES[wire]}, expected length-delimited")
    return value


def _set(out: dict[str, Any], leaf: _Leaf, wire: int, value: Value) -> None:
    type_ = leaf.type
    if type_.startswith("[]"):
        items = out.setdefault(leaf.name, [])
        item_type = type_[2:]
        if wire == LENGTH and _SCALAR_WIRE.get(item_type) in (VARINT, FIXED64):  # packed repeated scalars
            assert isinstance(value, bytes)
            items.extend(_scalar(item_type, item_wire, item, leaf)
                         for _, item_wire, item in _packed(value, _SCALAR_WIRE[item_type], leaf))
        else:
            items.append(_value(item_type, wire, value, leaf))
    elif type_.startswith("map[string]"):
        key, item = _map_entry(type_[len("map[string]"):], _bytes(value, wire, _where(leaf)), leaf)
        out.setdefault(leaf.name, {})[key] = item
    elif _is_message(type_) and leaf.message != RAW_JSON:  # a message seen again merges into the first
        target = out.get(leaf.name)
        if not isinstance(target, dict):
            target = out[leaf.name] = {}
        decode_message(_bytes(value, wire, _where(leaf)), leaf.message or type_, target)
    else:
        decoded = _value(type_, wire, value, leaf)
        if decoded is None or (type_ in _SCALAR_WIRE and not leaf.keep_zero and not decoded):
            out.pop(leaf.name, None)  # a zero time, or a zero scalar that Go's JSON would omit
        else:
            out[leaf.name] = decoded


def _packed(data: bytes, wire: int, leaf: _Leaf) -> list[tuple[int, int, Value]]:
    out: list[tuple[int, int, Value]] = []
    pos = 0
    while pos < len(data):
        if wire == VARINT:
            number, pos = _varint(data, pos, _where(leaf))
        else:
            if pos + 8 > len(data):
                raise malformed(f"packed {_where(leaf)} runs past its end")
            number, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        out.append((0, wire, number))
    return out


def _value(type_: str, wire: int, value: Value, leaf: _Leaf) -> Any:
    """One value (not a list or map) of `type_`; None for a zero time."""
    if type_ in _SCALAR_WIRE:
        return _scalar(type_, wire, value, leaf)
    data = _bytes(value, wire, _where(leaf))
    if type_ == "time":
        return _time(data, leaf)
    if type_ == "quantity":
        fields = _message_fields(data, "resource.Quantity", {1: "string"})
        return fields.get(1, "0")
    if type_ == "int-or-string":
        fields = _message_fields(data, "intstr.IntOrString", {1: "integer", 2: "integer", 3: "string"})
        return fields.get(3, "") if fields.get(1, 0) == 1 else fields.get(2, 0)
    if leaf.message == RAW_JSON:
        raw = _message_fields(data, "FieldsV1", {1: "bytes"}).get(1, b"")
        try:
            return json.loads(raw) if raw else {}
        except (ValueError, RecursionError):
            raise malformed(f"{_where(leaf)} does not hold valid JSON") from None
    if _is_message(type_):
        return decode_message(data, leaf.message or type_)
    raise bad_request(f"{_where(leaf)} ({type_}) has no protobuf encoding")


def _scalar(type_: str, wire: int, value: Value, leaf: _Leaf) -> Any:
    expected = _SCALAR_WIRE[type_]
    if wire != expected:
        raise malformed(f"{_where(leaf)} has wire type {_WIRE_NAMES[wire]}, expected {_WIRE_NAMES[expected]}")
    if type_ == "string":
        assert isinstance(value, bytes)
        return base64.b64encode(value).decode("ascii") if leaf.base64 else _text(value, _where(leaf))
    assert isinstance(value, int)
    if type_ == "integer":
        return _signed(value)
    if type_ == "boolean":
        return value != 0
    return struct.unpack("<d", value.to_bytes(8, "little"))[0]


def _message_fields(data: bytes, where: str, types: dict[int, str]) -> dict[int, Any]:
    """A small fixed message (Time, Quantity, IntOrString, FieldsV1): number -> value."""
    out: dict[int, Any] = {}
    for number, wire, value in wire_fields(data, where):
        type_ = types.get(number)
        if type_ is None:
            raise bad_request(f"the protobuf request body has unknown field number {number} in {where}")
        expected = LENGTH if type_ in ("string", "bytes") else VARINT
        if wire != expected:
            raise malformed(f"field {number} of {where} has wire type {_WIRE_NAMES[wire]}, "
                            f"expected {_WIRE_NAMES[expected]}")
        if type_ == "string":
            assert isinstance(value, bytes)
            out[number] = _text(value, where)
        elif type_ == "integer":
            assert isinstance(value, int)
            out[number] = _signed(value)
        else:
            out[number] = value
    return out


def _time(data: bytes, leaf: _Leaf) -> str | None:
    """meta.v1.Time {seconds, nanos} as RFC 3339 (MicroTime: with microseconds); None when zero."""
    if not data:
        return None
    fields = _message_fields(data, "meta.v1.Time", {1: "integer", 2: "integer"})
    seconds, nanos = fields.get(1, 0), fields.get(2, 0)
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000 if leaf.micro else 0)
    except OverflowError:
        raise malformed(f"{_where(leaf)} is out of range") from None
    if moment == _GO_ZERO_TIME:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if leaf.micro else "%Y-%m-%dT%H:%M:%SZ")


def _map_entry(value_type: str, data: bytes, leaf: _Leaf) -> tuple[str, Any]:
    key, item = "", None
    for number, wire, value in wire_fields(data, f"an entry of {_where(leaf)}"):
        if number == 1:
            key = _text(_bytes(value, wire, f"a key of {_where(leaf)}"), _where(leaf))
        elif number == 2:
            if value_type == "[]string":  # authorization's ExtraValue: a message of repeated strings (field 1)
                data = _bytes(value, wire, _where(leaf))
                item = [_text(_bytes(v, w, _where(leaf)), _where(leaf)) for n, w, v in wire_fields(data, _where(leaf))
                        if n == 1]
            elif _is_message(value_type):
                item = decode_message(_bytes(value, wire, _where(leaf)), value_type)
            else:
                item = _value(value_type, wire, value, leaf)
        else:
            raise bad_request(f"the protobuf request body has unknown field number {number} in an entry of "
                              f"{_where(leaf)}")
    if item is None:
        item = _ZERO_ITEMS.get(value_type, {})
    return key, item


_ZERO_ITEMS: dict[str, Any] = {"string": "", "integer": 0, "boolean": False, "number": 0.0, "quantity": "0",
                               "int-or-string": 0}


# ------------------------------------------------------------------ the envelope
def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """A protobuf request body (magic + runtime.Unknown) as the JSON object it encodes."""
    if not body.startswith(MAGIC):
        raise bad_request("the protobuf request body does not start with the Kubernetes magic number k8s\\x00")
    api_version = kind = encoding = ""
    raw = b""
    for number, wire, value in wire_fields(body[len(MAGIC):], "runtime.Unknown"):
        if number not in (1, 2, 3, 4):
            raise bad_request(f"the protobuf request body has unknown field number {number} in runtime.Unknown")
        data = _bytes(value, wire, f"field {number} of runtime.Unknown")
        if number == 1:
            meta = _message_fields(data, "runtime.TypeMeta", {1: "string", 2: "string"})
            api_version, kind = meta.get(1, ""), meta.get(2, "")
        elif number == 2:
            raw = data
        elif number == 3:
            encoding = _text(data, "runtime.Unknown contentEncoding")
    if encoding:
        raise bad_request(f"the protobuf request body has contentEncoding {encoding!r}; only unencoded bodies "
                          "are supported")
    if not kind or not api_version:
        raise bad_request("the protobuf request body has no apiVersion and kind in its typeMeta")
    root = KIND_TYPES.get((api_version, kind))
    if root is None or root in NOT_PROTOBUF or root in NO_NUMBERS:
        raise bad_request(f"the protobuf request body holds {kind} ({api_version}), which this server cannot "
                          "decode from protobuf")
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    return decode_message(raw, root, obj)
