"""OpenAPI schemas into the field model (`model.Field`): Kubernetes' definitions and CRD schemas.

Two inputs, one mapping of schema to `Field`:
- `definition_fields(definition)`: a named definition of Kubernetes' OpenAPI document (v2
  `definitions`, v3 `components.schemas`, properties naming other types by `$ref`), used by the
  generator (`generate.py`) to turn the pinned v1.32 spec into `generated/types.json`;
- `crd_schema(openAPIV3Schema, prefix)`: a CustomResourceDefinition version's structural schema
  (inline, no `$ref`), turned at run time into named types under `prefix`, so custom resources
  are checked by the same `structure.py` / `required.py` walks as built-in kinds:
      custom = crd_schema(version["schema"]["openAPIV3Schema"], "com.example.v1.Widget")
      apply_defaults(obj, custom.root, custom.types)                      # defaults.py
      unknown, causes = check_structure(obj, custom.root, custom.types, custom.root_preserves_unknown)
      missing = RequiredFields(custom.types, (custom.root,), nested_containers=True).missing(obj, custom.root)
      pruned = prune_unknown(obj, custom.root, custom.types, custom.root_preserves_unknown)

Kubernetes' named primitives map to the model's scalar types: IntOrString -> "int-or-string",
Quantity -> "quantity", Time and MicroTime -> "time", RawExtension and FieldsV1 -> "object"
(free-form), apiextensions' JSON and JSONSchemaProps{OrArray,OrBool,OrStringArray} -> "any".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .model import Constraints, Field, TypeFields

Schema = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
OBJECT_META = META + "ObjectMeta"
MICRO_TIME = META + "MicroTime"
NAMED_PRIMITIVES: dict[str, str] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    META + "Time": "time",
    MICRO_TIME: "time",
    META + "FieldsV1": "object",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "object",
    APIEXT + "JSON": "any",
    APIEXT + "JSONSchemaPropsOrArray": "any",
    APIEXT + "JSONSchemaPropsOrBool": "any",
    APIEXT + "JSONSchemaPropsOrStringArray": "any",
}
SCALARS = ("string", "integer", "number", "boolean")
UNSTORED_FORMATS = ("date-time", "int-or-string")  # carried by the model type itself


def ref_name(schema: Schema) -> str | None:
    """The definition a `$ref` (`#/definitions/X` or `#/components/schemas/X`) names, or None."""
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:  # v3 wraps a described $ref in allOf
        ref = schema["allOf"][0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


# -- Kubernetes' own definitions -----------------------------------------------------------------------------------

def value_type(schema: Schema) -> tuple[str, str]:
    """(model type, innermost format) of a property schema of a Kubernetes definition."""
    name = ref_name(schema)
    if name is not None:
        return NAMED_PRIMITIVES.get(name, name), ""
    kind = schema.get("type")
    if kind == "array":
        inner, fmt = value_type(schema.get("items", {}))
        return "[]" + inner, fmt
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            inner, fmt = value_type(extra)
            return "map[string]" + inner, fmt
        return "object", ""
    fmt = schema.get("format", "")
    if kind == "string" and fmt == "date-time":
        return "time", ""
    if kind == "string" and fmt == "int-or-string":
        return "int-or-string", ""
    if kind in SCALARS:
        return kind, "" if fmt in UNSTORED_FORMATS else fmt
    return "any", ""


def property_field(schema: Schema, required: bool) -> Field:
    """The `Field` of one property of a Kubernetes definition."""
    type_, fmt = value_type(schema)
    return Field(
        type_, required, schema.get("description", ""),
        enum=tuple(str(v) for v in schema.get("enum", ())),
        patch_strategy=schema.get("x-kubernetes-patch-strategy"),
        merge_key=schema.get("x-kubernetes-patch-merge-key"),
        list_type=schema.get("x-kubernetes-list-type"),
        list_map_keys=tuple(schema.get("x-kubernetes-list-map-keys", ())),
        format=fmt, map_type=schema.get("x-kubernetes-map-type"))


def definition_fields(definition: Schema) -> TypeFields:
    """The fields of a named Kubernetes definition (an object with properties), in schema order."""
    required = set(definition.get("required", ()))
    return {name: property_field(prop, name in required) for name, prop in definition.get("properties", {}).items()}


def element_type(type_: str) -> str:
    """The innermost type of `[]T` / `map[string]T` (T itself otherwise)."""
    while type_.startswith(("[]", "map[string]")):
        type_ = type_[2:] if type_.startswith("[]") else type_[len("map[string]"):]
    return type_


def referenced_definitions(fields: TypeFields) -> list[str]:
    """The named (non-primitive) types the fields refer to."""
    return [inner for inner in (element_type(field.type) for field in fields.values()) if "." in inner]


# -- custom resources ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CustomSchema:
    """A CRD version's schema as named types: `types[root]` is the custom resource itself.

    `types` also holds ObjectMeta and the types below it (the root's and embedded resources' metadata).
    """

    types: dict[str, TypeFields]
    root: str
    root_preserves_unknown: bool = False


_BOUNDS = (("minimum", "minimum"), ("maximum", "maximum"), ("multipleOf", "multiple_of"),
           ("minLength", "min_length"), ("maxLength", "max_length"), ("pattern", "pattern"),
           ("minItems", "min_items"), ("maxItems", "max_items"), ("minProperties", "min_properties"),
           ("maxProperties", "max_properties"))
_ROOT_FIELDS: TypeFields = {
    "apiVersion": Field("string", description="The versioned schema of this representation of an object."),
    "kind": Field("string", description="The REST resource this object represents, in CamelCase."),
    "metadata": Field(OBJECT_META, description="Standard object metadata."),
}


def crd_schema(schema: Schema, prefix: str) -> CustomSchema:
    """The types of a CRD's `openAPIV3Schema`: the root is `prefix`, nested objects `prefix.spec.ports[]`..."""
    from . import TYPES, referenced_types  # the package loads the generated tables; this module is below it

    types: dict[str, TypeFields] = {name: TYPES[name] for name in referenced_types(OBJECT_META)}
    root = _CrdConverter(types, prefix)
    fields = root.struct(schema, prefix)
    types[prefix] = {**fields, **_ROOT_FIELDS}
    return CustomSchema(types, prefix, bool(schema.get("x-kubernetes-preserve-unknown-fields")))


def constraints(schema: Schema) -> Constraints | None:
    """The value constraints of a CRD schema node and of its items / additionalProperties, or None."""
    values: dict[str, Any] = {}
    if "enum" in schema:
        values["enum"] = tuple(schema["enum"])
    for key, attr in _BOUNDS:
        if schema.get(key) is not None:
            values[attr] = schema[key]
    for key, attr in (("exclusiveMinimum", "exclusive_minimum"), ("exclusiveMaximum", "exclusive_maximum"),
                      ("nullable", "nullable")):
        if schema.get(key):
            values[attr] = True
    if "default" in schema:
        values["default"] = json.dumps(schema["default"], sort_keys=True)
    inner = schema.get("items") if schema.get("type") == "array" else schema.get("additionalProperties")
    if isinstance(inner, dict):
        inner_constraints = constraints(inner)
        if inner_constraints is not None:
            values["items"] = inner_constraints
    return Constraints(**values) if values else None


class _CrdConverter:
    """Walks a structural schema, naming each object with properties after its path under the prefix."""

    def __init__(self, types: dict[str, TypeFields], prefix: str) -> None:
        self.types = types
        self.prefix = prefix

    def struct(self, schema: Schema, name: str) -> TypeFields:
        required = set(schema.get("required", ()))
        return {key: self.field(prop, f"{name}.{key}", key in required)
                for key, prop in schema.get("properties", {}).items()}

    def field(self, schema: Schema, name: str, required: bool) -> Field:
        type_, fmt, preserve = self.value_type(schema, name)
        return Field(type_, required, schema.get("description", ""),
                     list_type=schema.get("x-kubernetes-list-type"),
                     list_map_keys=tuple(schema.get("x-kubernetes-list-map-keys", ())),
                     format=fmt, map_type=schema.get("x-kubernetes-map-type"),
                     constraints=constraints(schema), preserve_unknown=preserve)

    def value_type(self, schema: Schema, name: str) -> tuple[str, str, bool]:
        """(model type, format, whether the innermost struct preserves unknown fields)."""
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        if schema.get("x-kubernetes-int-or-string"):
            return "int-or-string", "", False
        kind = schema.get("type")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        if kind == "array":
            inner, fmt, inner_preserve = self.value_type(schema.get("items") or {}, name + "[]")
            return "[]" + inner, fmt, inner_preserve
        if kind == "object" or embedded or "properties" in schema:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and not schema.get("properties"):
                inner, fmt, inner_preserve = self.value_type(extra, name + "{}")
                return "map[string]" + inner, fmt, inner_preserve
            if (extra is True or preserve) and not schema.get("properties") and not embedded:
                return "object", "", False
            fields = self.struct(schema, name)
            if embedded:
                fields = {**fields, **_ROOT_FIELDS}
            self.types[name] = fields
            return name, "", preserve
        if kind in SCALARS:
            fmt = schema.get("format", "")
            if kind == "string" and fmt == "date-time":
                return "time", "", False
            return kind, fmt if kind == "string" else "", False
        return "any", "", False
