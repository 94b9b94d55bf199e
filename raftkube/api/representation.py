"""What a client asked to get back: the object, a meta.k8s.io/v1 Table, or only its metadata.

kubectl asks `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json` for
`get`; controllers that need only metadata ask `as=PartialObjectMetadata(List)`.
"""

from __future__ import annotations

import time
from typing import Any

from .kinds import strategy_of
from .resources import Resource

Obj = dict[str, Any]


def wants(accept: str, what: str) -> bool:
    return any(f"as={what}" in part.replace(" ", "") for part in accept.split(","))


def partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(resource: Resource, items: list[Obj], list_meta: Obj, include_object: str = "Metadata") -> Obj:
    strategy = strategy_of(resource)
    columns = strategy.table_columns()
    now = time.time()
    rows = []
    for obj in items:
        if include_object == "None":
            embedded: Obj | None = None
        elif include_object == "Object":
            embedded = obj
        else:
            embedded = partial(obj)
        row: Obj = {"cells": strategy.table_row(obj, now)}
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
        "columnDefinitions": [{"name": c.name, "type": c.type, "format": c.format, "description": c.description,
                               "priority": c.priority} for c in columns],
        "rows": rows,
    }


def render_list(resource: Resource, accept: str, items: list[Obj], list_meta: Obj, include_object: str) -> Obj:
    if wants(accept, "Table"):
        return table(resource, items, list_meta, include_object)
    if wants(accept, "PartialObjectMetadataList"):
        return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
                "items": [partial(o) for o in items]}
    return {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": list_meta, "items": items}


def render_object(resource: Resource, accept: str, obj: Obj, include_object: str = "Metadata") -> Obj:
    if wants(accept, "Table"):
        return table(resource, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                     include_object)
    if wants(accept, "PartialObjectMetadata"):
        return partial(obj)
    return obj
