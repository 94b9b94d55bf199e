"""Protobuf field numbers read from Kubernetes' `generated.proto` files (k8s.io/api).

`parse_proto(text)` finds each `message X { optional T name = N; ... }` (also `repeated` and
`map<K, V>` fields) of one file; `message_numbers(messages, openapi_name, json_fields)` gives the
numbers of one type in the format of `proto_numbers` (a tuple is the path through a message Go
embeds inline: a proto field whose name is not a JSON field, such as `volumeSource` in `Volume`).
Proto names match JSON names but for case (`aPIGroup` is `apiGroup`).
"""

from __future__ import annotations

import re

Number = int | tuple[int, ...]
ProtoField = tuple[str, int]  # (type as written, qualified to an OpenAPI name; number)
Messages = dict[str, dict[str, ProtoField]]  # OpenAPI type name -> proto field name -> field

_PACKAGE = re.compile(r"^package\s+([\w.]+)\s*;", re.M)
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"^\s*(?:optional|repeated)?\s*(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;", re.M)


def openapi_name(proto_name: str) -> str:
    """`k8s.io.api.core.v1.Pod` (or with a leading dot) -> `io.k8s.api.core.v1.Pod`."""
    name = proto_name.lstrip(".")
    return "io.k8s." + name[len("k8s.io."):] if name.startswith("k8s.io.") else name


def parse_proto(text: str) -> Messages:
    """The messages of one generated.proto, keyed by their OpenAPI type names."""
    text = re.sub(r"//[^\n]*", "", text)
    package_match = _PACKAGE.search(text)
    if package_match is None:
        raise ValueError("generated.proto without a package line")
    package = openapi_name(package_match.group(1))
    out: Messages = {}
    for match in _MESSAGE.finditer(text):
        fields: dict[str, ProtoField] = {}
        for type_, name, number in _FIELD.findall(match.group(2)):
            if not type_.startswith("map<") and type_[0].isupper():
                type_ = f"{package}.{type_}"  # a message of the same package
            elif type_.startswith("."):
                type_ = openapi_name(type_)
            fields[name] = (type_, int(number))
        out[f"{package}.{match.group(1)}"] = fields
    return out


def message_numbers(messages: Messages, type_name: str, json_fields: set[str]) -> dict[str, Number]:
    """Field numbers of `type_name`'s JSON fields, following messages embedded inline; {} when unknown."""
    message = messages.get(type_name)
    if message is None:
        return {}
    by_lower = {name.lower(): name for name in json_fields}  # the proto name may be `aPIGroup` for `apiGroup`
    out: dict[str, Number] = {}
    for proto_name, (type_, number) in message.items():
        name = by_lower.get(proto_name.lower())
        if name is not None:
            out[name] = number
        elif type_ in messages:  # embedded inline: its fields are the parent's JSON fields
            for inner, inner_number in message_numbers(messages, type_, json_fields).items():
                path = inner_number if isinstance(inner_number, tuple) else (inner_number,)
                out.setdefault(inner, (number, *path))
    return {name: out[name] for name in sorted(out, key=lambda n: _order(out[n]))}


def _order(number: Number) -> tuple[int, ...]:
    return number if isinstance(number, tuple) else (number,)
