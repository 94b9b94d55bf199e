"""The strategy of a custom resource: its CRD version's schema and printer columns.

`default` applies the schema's defaults, `validate` checks the object against the schema
(`schema_validation.py`), `pruned` drops what the schema does not name, and the Table columns
are NAME plus the version's additionalPrinterColumns (NAME and AGE when it has none), their
cells read with the JSONPath subset kubectl's CRDs use: `.spec.x`, `.status.y[0].z`,
`.metadata.creationTimestamp` (a `date` column shows an age, as kube-apiserver prints it).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Cause
from ..kinds.base import Column
from ..kinds.common import ObjectStrategy
from ..kinds.printing import since
from .resource import CustomResource
from .schema_validation import apply_defaults, pruned, unknown_fields, validate

Obj = dict[str, Any]
_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']+)'\]")


def json_path(obj: Any, path: str) -> Any:
    """The value at a simple JSONPath (`.a.b[0].c`, also `{.a.b}`), or None when it is missing."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    pos, value = 0, obj
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            return None
        pos = match.end()
        key, index, quoted = match.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = value.get(key if key is not None else quoted) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


class CustomResourceStrategy(ObjectStrategy):
    def __init__(self, resource: CustomResource) -> None:
        super().__init__(resource.kind, resource.namespaced)
        self.resource = resource

    def unknown_fields(self, obj: Obj) -> list[str]:
        compiled = self.resource.compiled
        return unknown_fields(obj, compiled) if compiled is not None else []

    def pruned(self, obj: Obj) -> Obj:
        compiled = self.resource.compiled
        return pruned(obj, compiled) if compiled is not None else obj

    def default(self, obj: Obj) -> None:
        if self.resource.compiled is not None:
            apply_defaults(obj, self.resource.compiled)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        compiled = self.resource.compiled
        return validate(obj, compiled) if compiled is not None else []

    def table_columns(self) -> list[Column]:
        columns = [Column("Name", format="name", description="Name must be unique within a namespace.")]
        if not self.resource.printer_columns:
            return columns + [Column("Age", "date", description="Time since creation")]
        for spec in self.resource.printer_columns:
            columns.append(Column(spec.get("name", ""), spec.get("type", "string"), spec.get("format", ""),
                                  spec.get("description", ""), int(spec.get("priority") or 0)))
        return columns

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        cells: list[Any] = [obj["metadata"]["name"]]
        if not self.resource.printer_columns:
            return cells + [since(obj["metadata"].get("creationTimestamp"), now)]
        for spec in self.resource.printer_columns:
            value = json_path(obj, spec.get("jsonPath", ""))
            kind = spec.get("type")
            if value is None:
                cells.append(None)
            elif kind == "date":
                cells.append(since(value, now))
            elif kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(int(value))
            elif kind in ("integer", "number", "boolean"):
                cells.append(value)
            else:
                cells.append(value if isinstance(value, str) else str(value))
        return cells


def patch_typing(resource: CustomResource) -> tuple[str, dict[str, Any]]:
    """(root type, type table) for the patch and apply code: metadata is ObjectMeta, the rest free-form."""
    from collections import ChainMap

    from ..schema import TYPES
    from ..schema.model import Field

    root = f"crd:{resource.group}/{resource.version}/{resource.kind}"
    fields = {key: Field("object") for key in (resource.schema.get("properties") or {})}
    fields.update({"apiVersion": Field("string"), "kind": Field("string"),
                   "metadata": Field("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")})
    return root, ChainMap({root: fields}, TYPES)  # type: ignore[return-value]
