"""The format in which raftkube describes the fields of every kind it serves.

One description feeds four consumers: the OpenAPI v3 documents kubectl reads
(`openapi.py`), the server's structural checks (unknown fields, wrong types:
`structure.py`; required fields at every depth: `required.py`), strategic merge patch
(merge keys and strategies) and server-side apply (list map keys). The type data lives in
`types_core.py`, `types_apps.py`, ... and is collected in `TYPES`.

A field's `type` is one of:
  "string", "integer", "number", "boolean"  scalars
  "int-or-string", "quantity"               Kubernetes' IntOrString and resource.Quantity
  "time"                                    an RFC 3339 string
  "object"                                  a free-form map (preserves unknown fields)
  "any"                                     any JSON value, unchecked (e.g. Table cells)
  "[]T"                                     a list of T
  "map[string]T"                            a map from strings to T
  a type name                               a key of TYPES, e.g. "io.k8s.api.core.v1.PodSpec"
"""

from __future__ import annotations

from dataclasses import dataclass


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


TypeFields = dict[str, Field]
