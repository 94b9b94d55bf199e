"""Walking raftkube's field descriptions (`schema.TYPES`) for the patch algorithms.

A type string is one of the forms documented in `schema/model.py`. Here every one of them
is reduced to a `Shape`: a scalar, a struct (a key of TYPES), a map with typed values, a
list, or a free-form object. Unknown type names and unknown struct fields are free-form, so
that the patch code never fails on data the schema does not describe (the server's
structural checks report unknown fields afterwards).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..schema.model import Field, TypeFields

Types = Mapping[str, TypeFields]

SCALARS = frozenset({"string", "integer", "number", "boolean", "int-or-string", "quantity", "time"})
OBJECT = "object"
FREE_FIELD = Field(OBJECT)
# Key fields of list-maps that the server defaults: used when an item omits them, as
# structured-merge-diff does with the schema default (containerPort lists keyed by protocol).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


@dataclass(frozen=True)
class Shape:
    kind: str  # "scalar", "struct", "map", "list", "object"
    name: str = ""  # the type string itself
    elem: str = ""  # element type for "map" and "list"


def resolve_types(types: Types | None) -> Types:
    """The given table, or the real one (imported lazily: another module fills it)."""
    if types is not None:
        return types
    from ..schema import TYPES

    return TYPES


def shape(type_str: str, types: Types) -> Shape:
    if type_str in SCALARS:
        return Shape("scalar", type_str)
    if type_str.startswith("[]"):
        return Shape("list", type_str, type_str[2:])
    if type_str.startswith("map[string]"):
        return Shape("map", type_str, type_str[len("map[string]"):])
    if type_str in types:
        return Shape("struct", type_str)
    return Shape("object", type_str)


def child_field(type_str: str, key: str, types: Types) -> Field:
    """The description of member `key` inside a value of type `type_str` (struct or map)."""
    sh = shape(type_str, types)
    if sh.kind == "struct":
        return types[type_str].get(key, FREE_FIELD)
    if sh.kind == "map":
        return Field(sh.elem)
    return FREE_FIELD


def is_named_field(type_str: str, types: Types) -> bool:
    """True when members of `type_str` are struct fields (not keys of a map)."""
    return shape(type_str, types).kind == "struct"


def list_semantics(field: Field, types: Types) -> tuple[str, tuple[str, ...]]:
    """Server-side apply semantics of a list field: ("map", keys), ("set", ()) or ("atomic", ())."""
    elem = shape(field.type, types).elem
    if field.list_type == "map":
        keys = field.list_map_keys or ((field.merge_key,) if field.merge_key else ())
        return ("map", keys) if keys else ("atomic", ())
    if field.list_type in ("set", "atomic"):
        return field.list_type, ()
    strategy = field.patch_strategy or ""
    if "merge" in strategy.split(","):
        if field.merge_key and shape(elem, types).kind in ("struct", "object"):
            return "map", (field.merge_key,)
        if shape(elem, types).kind == "scalar":
            return "set", ()
    return "atomic", ()


def item_key(item: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The key fields of a list-map item (server defaults filled in), or None if one is missing."""
    if not isinstance(item, dict):
        return None
    out: dict[str, Any] = {}
    for k in sorted(keys):
        if k in item and item[k] is not None:
            out[k] = item[k]
        elif k in KEY_DEFAULTS:
            out[k] = KEY_DEFAULTS[k]
        else:
            return None
    return out


def canonical(value: Any) -> str:
    """A JSON text that is equal for equal JSON values (and differs for 1 and true)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_equal(a: Any, b: Any) -> bool:
    return a is b or canonical(a) == canonical(b)
