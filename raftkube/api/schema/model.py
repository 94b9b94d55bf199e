"""The format in which raftkube describes the fields of every kind it serves.

One description feeds four consumers: the OpenAPI v3 documents kubectl reads
(`openapi.py`), the server's structural checks (unknown fields, wrong types:
`structure.py`; required fields at every depth: `required.py`), strategic merge patch
(merge keys and strategies) and server-side apply (list map keys). The type data is
generated from the pinned Kubernetes spec (`generate.py`, `generated/`), plus the
hand-kept `types_*.py` tables, and collected in `TYPES`.

A field's `type` is one of:
  "string", "integer", "number", "boolean"  scalars
  "int-or-string", "quantity"               Kubernetes' IntOrString and resource.Quantity
  "time"                                    an RFC 3339 string
  "object"                                  a free-form map (preserves unknown fields)
  "any"                                     any JSON value, unchecked (e.g. Table cells)
  "[]T"                                     a list of T
  "map[string]T"                            a map from strings to T
  a type name                               a key of TYPES, e.g. "io.k8s.api.core.v1.PodSpec"

Custom resources (`openapi_import.crd_schema`) add what structural schemas may say beyond
that: `constraints` (enum values, bounds, lengths, patterns: checked by `structure.py` only when
set, which built-in types never are) and `preserve_unknown` (a struct that keeps fields it does
not list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Constraints:
    """OpenAPI value constraints of a custom resource field (None / False: not constrained).

    `items` constrains the elements of a list and the values of a map (their own schema's
    constraints); `default` is the JSON text of the default value, applied by defaulting.
    """

    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    nullable: bool = False
    default: str | None = None
    items: Constraints | None = None


@dataclass(frozen=True)
class Field:
    type: str
    required: bool = False
    description: str = ""
    enum: tuple[str, ...] = ()
    # strategic merge patch (x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key)
    patch_strategy: str | None = None  # "merge", "replace", "retainKeys", "merge,retainKeys"
    merge_key: str | None = None
    # server-side apply (x-kubernetes-list-type / x-kubernetes-list-map-keys)
    list_type: str | None = None  # "atomic", "set", "map"
    list_map_keys: tuple[str, ...] = ()
    # optional additions: OpenAPI `format` ("int32", "int64", "byte", "double") and
    # x-kubernetes-map-type ("atomic", "granular") for maps
    format: str = ""
    map_type: str | None = None
    # custom resources only: value constraints, and a struct (the named type, or a list's/map's
    # element struct) that keeps the fields it does not list (x-kubernetes-preserve-unknown-fields)
    constraints: Constraints | None = None
    preserve_unknown: bool = False


TypeFields = dict[str, Field]
