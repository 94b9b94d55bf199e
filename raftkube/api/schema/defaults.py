"""Structural defaulting of custom resources: `apply_defaults(obj, root, types)` fills schema defaults.

As the apiextensions server does: walking the object top-down, a field with a `default` that is
absent, or null while not `nullable`, gets a copy of the default, and the walk goes on into it (so
defaults inside a defaulted object apply too); lists and maps are walked element by element. Only
custom resource schemas carry defaults (`Constraints.default`, from `openapi_import.crd_schema`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .model import Field, TypeFields


def apply_defaults(obj: dict[str, Any], root: str, types: Mapping[str, TypeFields]) -> dict[str, Any]:
    """`obj` (changed in place, and returned) with the defaults of `types[root]` and below filled in."""
    _struct(obj, root, types)
    return obj


def _struct(value: dict[str, Any], type_name: str, types: Mapping[str, TypeFields]) -> None:
    for key, field in types[type_name].items():
        c = field.constraints
        if c is not None and c.default is not None and (key not in value or (value[key] is None and not c.nullable)):
            value[key] = json.loads(c.default)
        if value.get(key) is not None:
            _value(value[key], field.type, field, types)


def _value(value: Any, type_: str, field: Field, types: Mapping[str, TypeFields]) -> None:
    if type_.startswith("[]") and isinstance(value, list):
        for item in value:
            _value(item, type_[2:], field, types)
    elif type_.startswith("map[string]") and isinstance(value, dict):
        for item in value.values():
            _value(item, type_[len("map[string]"):], field, types)
    elif type_ in types and isinstance(value, dict):
        _struct(value, type_, types)
