"""meta.k8s.io/v1 types the pinned spec does not define: Table (kubectl get's rows) and PartialObjectMetadata.

Kubernetes serves them (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) but leaves them
out of its OpenAPI documents, so they stay hand-kept; every other type is generated (`generate.py`).
"""

from __future__ import annotations

from .build import API_VERSION, KIND, LIST_META, META, OBJECT_META
from .enums import CONDITION_STATUS
from .model import Field, TypeFields


def _s(desc: str, *, req: bool = False, enum: tuple[str, ...] = ()) -> Field:
    return Field("string", req, desc, enum)


def _list(item: str, desc: str, *, req: bool = False) -> Field:
    return Field("[]" + item, req, desc, list_type="atomic")


TYPES: dict[str, TypeFields] = {
    META + "Table": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": LIST_META,
        "columnDefinitions": _list(META + "TableColumnDefinition", "The columns of each row.", req=True),
        "rows": _list(META + "TableRow", "One row per object.", req=True),
    },
    META + "TableColumnDefinition": {
        "name": _s("Human-readable column name.", req=True),
        "type": _s("OpenAPI type of the column: number, integer, string or boolean.", req=True),
        "format": _s("Optional OpenAPI format modifier, e.g. name for the object's name column.", req=True),
        "description": _s("Human-readable description of the column.", req=True),
        "priority": Field("integer", True, "0 for columns always shown; higher numbers for columns shown in wide "
                          "output.", format="int32"),
    },
    META + "TableRow": {
        "cells": Field("[]any", True, "The values of the row, one per column definition.", list_type="atomic"),
        "conditions": _list(META + "TableRowCondition", "Conditions describing the row, e.g. Completed."),
        "object": Field("object", False, "The object the row describes: full, PartialObjectMetadata, or absent, "
                        "as asked by includeObject."),
    },
    META + "TableRowCondition": {
        "type": _s("Type of row condition; the only defined value is Completed.", req=True),
        "status": _s("Status of the condition.", req=True, enum=CONDITION_STATUS),
        "reason": _s("CamelCase reason for the last transition."),
        "message": _s("Human-readable details about the last transition."),
    },
    META + "PartialObjectMetadata": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
    },
}

DESCRIPTIONS: dict[str, str] = {
    META + "Table": "A tabular representation of a set of objects, as kubectl get prints it.",
    META + "TableColumnDefinition": "A column of a Table.",
    META + "TableRow": "A row of a Table.",
    META + "TableRowCondition": "A condition of a Table row.",
    META + "PartialObjectMetadata": "Only the metadata of an object.",
}
