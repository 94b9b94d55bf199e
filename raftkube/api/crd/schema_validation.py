"""A custom resource against its CRD's structural schema, through the same machinery as the built-ins.

The CRD version's `openAPIV3Schema` is converted once (per CRD change) into raftkube's field model
(`schema.openapi_import.crd_schema`), and objects are then checked by the walks every kind uses:
unknown fields (`structure.check_structure` / `prune_unknown`: pruned, refused or warned about per
fieldValidation; kept below `x-kubernetes-preserve-unknown-fields`), defaults (`schema.defaults`, on
writes and on reads from storage), types and value constraints (enum, bounds, lengths, patterns,
sizes, int-or-string), and required fields at every depth (`required.RequiredFields`). Causes read
as kube-apiserver's for custom resources, e.g. `spec.size: Invalid value: "string": spec.size in body
must be of type integer: "string"`. An embedded resource (`x-kubernetes-embedded-resource`) must name
its apiVersion and kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import Cause
from ..schema.defaults import apply_defaults as _apply_defaults
from ..schema.openapi_import import CustomSchema, crd_schema
from ..schema.required import RequiredFields
from ..schema.structure import check_structure, prune_unknown

Obj = dict[str, Any]
_TYPE_CAUSE = re.compile(r'^Invalid value: "(?P<actual>[a-z]+)": .* in body must be of type [a-z ,-]+$')


@dataclass(frozen=True)
class CompiledSchema:
    """One CRD version's schema: the raw JSON schema and its conversion to the field model (made on first use;
    equal schemas compare equal, so an unchanged CRD keeps its registry entry and its conversion)."""

    raw: Obj
    prefix: str

    @cached_property
    def custom(self) -> CustomSchema:
        return crd_schema(self.raw, self.prefix)

    @cached_property
    def required(self) -> RequiredFields:
        return RequiredFields(self.custom.types, (self.custom.root,), nested_containers=True)


def unknown_fields(obj: Obj, schema: CompiledSchema) -> list[str]:
    """The paths of the fields the schema does not name (and does not preserve)."""
    custom = schema.custom
    return check_structure(obj, custom.root, custom.types, custom.root_preserves_unknown)[0]


def pruned(obj: Obj, schema: CompiledSchema) -> Obj:
    """A copy of `obj` without its unknown fields."""
    custom = schema.custom
    return prune_unknown(obj, custom.root, custom.types, custom.root_preserves_unknown)


def apply_defaults(obj: Obj, schema: CompiledSchema) -> None:
    """Fill the schema's defaults into `obj` (in place), top-down."""
    _apply_defaults(obj, schema.custom.root, schema.custom.types)


def validate(obj: Obj, schema: CompiledSchema) -> list[Cause]:
    """Types, value constraints, required fields and embedded resources' identity, in Kubernetes' words."""
    custom = schema.custom
    causes = [_with_actual_type(c) for c in check_structure(obj, custom.root, custom.types,
                                                            custom.root_preserves_unknown)[1]]
    named = {c.field for c in causes}
    causes += [c for c in schema.required.missing(obj, custom.root) if c.field not in named]
    return causes + _embedded(obj, schema.raw, "", root=True)


def _with_actual_type(cause: Cause) -> Cause:
    """kube-openapi ends a custom resource's type error with the type it found: `...: "string"`."""
    match = _TYPE_CAUSE.match(cause.message)
    if cause.reason != "FieldValueTypeInvalid" or match is None:
        return cause
    return Cause(cause.field, f'{cause.message}: "{match.group("actual")}"', cause.reason)


def _embedded(value: Any, schema: Obj, path: str, root: bool = False) -> list[Cause]:
    out: list[Cause] = []
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") and not root:
            for key in ("apiVersion", "kind"):
                if not value.get(key):
                    out.append(Cause(f"{path}.{key}", "Required value: must not be empty", "FieldValueRequired"))
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key) if key in props else extra if isinstance(extra, dict) else None
            if isinstance(sub, dict):
                out += _embedded(item, sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += _embedded(item, schema["items"], f"{path}[{i}]")
    return out
