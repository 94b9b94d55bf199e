"""The schema tables generated from the pinned Kubernetes spec, loaded from `generated/*.json`.

`generate.py` writes the files; this module only reads them (one JSON parse each at import):
`TYPES` and `DESCRIPTIONS` (type name -> fields / description), `ATOMIC` (the structs with
x-kubernetes-map-type: atomic), `KINDS` (the root types of kinds), `MICRO_TIMES` ((type, field) of
meta.v1.MicroTime fields), `RAW_JSON_FIELDS` (free-form fields whose protobuf form is JSON bytes)
and `NUMBERS` (protobuf field numbers, `proto_numbers` format).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import Field, TypeFields

HERE = Path(__file__).resolve().parent / "generated"
_TUPLES = ("enum", "list_map_keys")


def _field(data: dict[str, Any]) -> Field:
    for key in _TUPLES:
        if key in data:
            data[key] = tuple(data[key])
    return Field(**data)


def _load(name: str) -> dict[str, Any]:
    with open(HERE / name, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


_types = _load("types.json")
TYPES: dict[str, TypeFields] = {
    name: {key: _field(field) for key, field in entry["fields"].items()} for name, entry in _types["types"].items()}
DESCRIPTIONS: dict[str, str] = {name: entry["description"] for name, entry in _types["types"].items()}
ATOMIC: frozenset[str] = frozenset(name for name, entry in _types["types"].items() if entry.get("atomic"))
KINDS: frozenset[str] = frozenset(name for name, entry in _types["types"].items() if entry.get("kind"))
MICRO_TIMES: frozenset[tuple[str, str]] = frozenset((name, key) for name, key in _types.get("micro_times", ()))
RAW_JSON_FIELDS: frozenset[tuple[str, str]] = frozenset((name, key) for name, key in _types.get("raw_json", ()))
NUMBERS: dict[str, dict[str, int | tuple[int, ...]]] = {
    name: {key: tuple(n) if isinstance(n, list) else n for key, n in fields.items()}
    for name, fields in _load("proto_numbers.json")["numbers"].items()}
ROOTS: tuple[str, ...] = tuple(_types["source"]["roots"])
del _types
