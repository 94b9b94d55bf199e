"""Fuzzing create with random protobuf bodies (Kubernetes' envelope and messages built field by
field): bad input is a 4xx Status that writes nothing."""

from __future__ import annotations

import httpx
from hypothesis import given
from hypothesis import strategies as st

from raftkube.api.schema import KIND_TYPES
from raftkube.api.schema.proto_numbers import DECODE_TYPES, NUMBERS, OBJECT_MESSAGES, RAW_JSON
from tests.api.fuzz.support import (
    BY_KIND,
    FUZZ,
    KIND_NAMES,
    exchange,
    fresh_name,
)
from tests.api.inproc import ChildProcessAPI


# ------------------------------------------------------------------ protobuf bodies (kubectl create ...)
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, value: int | bytes) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(int(value))  # type: ignore[arg-type]
    if wire == 1:
        return key + int(value).to_bytes(8, "little", signed=False)  # type: ignore[arg-type]
    if wire == 5:
        return key + int(value).to_bytes(4, "little", signed=False)  # type: ignore[arg-type]
    data = bytes(value) if not isinstance(value, int) else _varint(value)
    return key + _varint(len(data)) + data


PROTO_SCALARS = st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**31, 2**63, 2**64 - 1])
PROTO_BYTES = st.binary(max_size=12) | st.sampled_from([b"", b"app", b"nginx:1.27", b"\xff\xfe", b"2024-01-01"])


@st.composite
def proto_messages(draw: st.DrawFn, depth: int = 3) -> bytes:
    """A structurally valid protobuf message with random field numbers, wire types and values."""
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        number = draw(st.integers(1, 20) | st.sampled_from([0, 99, 2**29 - 1]))
        wire = draw(st.sampled_from([0, 1, 2, 2, 2, 5]))
        if wire == 2:
            value: int | bytes = draw(proto_messages(depth - 1)) if depth > 0 and draw(st.booleans()) \
                else draw(PROTO_BYTES)
        else:
            value = draw(PROTO_SCALARS) & ((1 << (32 if wire == 5 else 64)) - 1)
        out += _field(number, wire, value)
    if draw(st.integers(0, 7)) == 0:  # now and then a broken tail: a truncated or garbage field
        out += draw(st.sampled_from([b"\x0a\x7f", b"\x08", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                     b"\x0b", b"\x0f\x00"]))
    return out


PROTO_TEXT = st.sampled_from([b"", b"app", b"fz", b"nginx:1.27", b"TCP", b"Always", b"100m", b"1Gi", b"10.0.0.1",
                               b"2024-01-01T00:00:00Z", b"\xff\xfe", b"A_B", b"x" * 300]) | st.binary(max_size=8)


def _one(type_: str, owner: str, name: str, depth: int) -> st.SearchStrategy[tuple[int, int | bytes]]:
    """(wire type, value) of one value of schema type `type_` (a field `name` of `owner`)."""
    if type_ == "string":
        return st.tuples(st.just(2), PROTO_TEXT)
    if type_ in ("integer", "boolean"):
        return st.tuples(st.just(0), PROTO_SCALARS if type_ == "integer" else st.integers(0, 2))
    if type_ == "number":
        return st.tuples(st.just(1), PROTO_SCALARS)
    if type_ == "time":
        return st.tuples(st.just(2), st.builds(lambda sec, nanos: _field(1, 0, sec) + _field(2, 0, nanos),
                                               PROTO_SCALARS | st.integers(0, 2**33), st.integers(0, 2**31)))
    if type_ == "quantity":
        return st.tuples(st.just(2), PROTO_TEXT.map(lambda q: _field(1, 2, q)))
    if type_ == "int-or-string":
        def int_or_string(t: int, i: int, text: bytes) -> bytes:
            return _field(1, 0, t) + _field(2, 0, i) + _field(3, 2, text)
        return st.tuples(st.just(2), st.builds(int_or_string, st.integers(0, 3), PROTO_SCALARS, PROTO_TEXT))
    message = OBJECT_MESSAGES.get((owner, name), type_ if type_ in DECODE_TYPES else None)
    if message == RAW_JSON:
        return st.tuples(st.just(2), st.sampled_from([b"{}", b'{"f:x":{}}', b"[", b"NaN", b"[" * 3000])
                         .map(lambda raw: _field(1, 2, raw)))
    if message is None or depth <= 0:
        return st.tuples(st.just(2), st.just(b"") | proto_messages(1))
    return st.tuples(st.just(2), proto_objects(message, depth - 1))


@st.composite
def proto_objects(draw: st.DrawFn, type_name: str, depth: int = 4) -> bytes:
    """A message of `type_name` built from its protobuf field numbers, values of about the right shape,
    and now and then a field with the wrong wire type or a number the type does not have."""
    numbers, fields = NUMBERS.get(type_name, {}), DECODE_TYPES.get(type_name, {})
    out = b""
    for name in draw(st.lists(st.sampled_from(sorted(numbers)), max_size=4, unique=True)) if numbers else []:
        number = numbers[name]
        path = number if isinstance(number, tuple) else (number,)
        type_ = fields[name].type
        if type_.startswith("[]"):
            values = draw(st.lists(_one(type_[2:], type_name, name, depth), max_size=2))
        elif type_.startswith("map[string]"):
            entries = draw(st.lists(st.tuples(PROTO_TEXT, _one(type_[len("map[string]"):], type_name, name, depth)),
                                    max_size=2))
            values = [(2, _field(1, 2, key) + _field(2, wire, value)) for key, (wire, value) in entries]
        else:
            values = [draw(_one(type_, type_name, name, depth))]
        if values and draw(st.integers(0, 15)) == 0:
            values[0] = (draw(st.sampled_from([0, 1, 2, 5])), draw(PROTO_SCALARS.map(lambda n: n & 0xFFFFFFFF)))
        leaf = b"".join(_field(path[-1], wire, value) for wire, value in values)
        for step in reversed(path[:-1]):
            leaf = _field(step, 2, leaf)
        out += leaf
    if draw(st.integers(0, 15)) == 0:
        out += draw(proto_messages(0))
    return out


@FUZZ
@given(data=st.data(), kind=KIND_NAMES, named=st.booleans(),
       envelope_extra=st.sampled_from([b"", b"", b"\x1a\x04gzip", b"\x22\x00", b"\x2a\x01x"]),
       type_meta=st.none() | st.none() | st.tuples(st.sampled_from(["v1", "apps/v1", "x/y", ""]),
                                                   st.sampled_from(["Pod", "ConfigMap", "Table", "Status", ""])))
def test_create_with_random_protobuf_bodies(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                                            named: bool, envelope_extra: bytes,
                                            type_meta: tuple[str, str] | None) -> None:
    """What kubectl's typed clients send (`kubectl create ...`): the k8s magic, a runtime.Unknown envelope
    and the object's own message, here built from the served types' field numbers with random values."""
    k = BY_KIND[kind]
    root = KIND_TYPES[(k.api_version, k.kind)]
    raw = data.draw(proto_objects(root) | proto_messages(), label="object message")
    if named:  # a valid metadata.name first, so that more bodies get past validation
        raw = _field(1, 2, _field(1, 2, fresh_name().encode())) + raw
    api_version, kind_name = type_meta or (k.api_version, k.kind)
    meta = _field(1, 2, api_version.encode()) + _field(2, 2, kind_name.encode())
    body = b"k8s\x00" + _field(1, 2, meta) + _field(2, 2, raw) + envelope_extra
    exchange(api, client, "POST", k.collection, body, "application/vnd.kubernetes.protobuf", model=k.model)
