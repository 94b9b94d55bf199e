"""Whether a CRD version's openAPIV3Schema is structural, in kube-apiserver's words.

A structural schema (apiextensions.k8s.io/v1 requires one) names a `type` for every node
below the root (unless `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`
stands for it), `type: object` at the root, nothing under `metadata` but name and
generateName, no `properties` and `additionalProperties` together, and `items` for arrays.
Paths read as Kubernetes prints them: `...openAPIV3Schema.properties[spec].type`.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Cause
from ..kinds import fielderr as fe

Obj = dict[str, Any]
TYPES = ("object", "array", "string", "integer", "number", "boolean")
FORBIDDEN_KEYWORDS = ("$ref", "definitions", "dependencies", "patternProperties", "additionalItems", "id")
NUMBER_KEYWORDS = ("maximum", "minimum", "multipleOf")
COUNT_KEYWORDS = ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties")
FLAG_KEYWORDS = ("exclusiveMaximum", "exclusiveMinimum", "uniqueItems", "nullable", "x-kubernetes-int-or-string",
                 "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource")


def structural_causes(schema: Any, path: str) -> list[Cause]:
    """Every reason why `schema` (at `path`) is not a structural schema of a CRD version."""
    if not isinstance(schema, dict) or not schema:
        return [fe.required(path, "schemas are required")]
    out: list[Cause] = []
    if not _keyword_types(schema, path, out):
        return out
    if schema.get("type") in (None, ""):
        out.append(fe.required(f"{path}.type", "must not be empty at the root"))
    elif schema.get("type") != "object":
        out.append(fe.invalid(f"{path}.type", schema["type"], "must be object at the root"))
    for key in ("nullable",):
        if schema.get(key):
            out.append(fe.forbidden(f"{path}.{key}", "must be false at the root"))
    _node(schema, path, out, root=True)
    props = schema.get("properties") or {}
    meta = props.get("metadata") if isinstance(props, dict) else None
    if isinstance(meta, dict):
        _metadata(meta, f"{path}.properties[metadata]", out)
    return out


def _metadata(meta: Obj, path: str, out: list[Cause]) -> None:
    allowed = {"type", "properties", "description"}
    names = meta.get("properties") or {}
    if set(meta) - allowed or (isinstance(names, dict) and set(names) - {"name", "generateName"}):
        out.append(fe.forbidden(path, "must not specify anything other than name and generateName, but metadata is "
                                      "implicitly specified"))
    if meta.get("type") not in (None, "object"):
        out.append(fe.invalid(f"{path}.type", meta["type"], "must be object"))


def _keyword_types(schema: Obj, path: str, out: list[Cause]) -> bool:
    """Each keyword's value has the type JSON Schema gives it; False when one does not (nothing below is read)."""
    bad: list[Cause] = []
    for key in NUMBER_KEYWORDS:
        value = schema.get(key)
        if key in schema and (isinstance(value, bool) or not isinstance(value, int | float)):
            bad.append(fe.type_invalid(f"{path}.{key}", value, "must be a number"))
    if isinstance(schema.get("multipleOf"), int | float) and schema["multipleOf"] <= 0:
        bad.append(fe.invalid(f"{path}.multipleOf", schema["multipleOf"], "must be greater than zero"))
    for key in COUNT_KEYWORDS:
        value = schema.get(key)
        if key in schema and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            bad.append(fe.invalid(f"{path}.{key}", value, "must be a non-negative integer"))
    for key in FLAG_KEYWORDS:
        if key in schema and not isinstance(schema[key], bool):
            bad.append(fe.type_invalid(f"{path}.{key}", schema[key], "must be a boolean"))
    checks = (("type", str, "a string"), ("pattern", str, "a string"), ("format", str, "a string"),
              ("description", str, "a string"), ("enum", list, "a list"), ("required", list, "a list of strings"),
              ("properties", dict, "an object"), ("items", dict, "a schema object"),
              ("allOf", list, "a list"), ("anyOf", list, "a list"), ("oneOf", list, "a list"),
              ("not", dict, "a schema object"), ("x-kubernetes-list-type", str, "a string"),
              ("x-kubernetes-list-map-keys", list, "a list"))
    for key, type_, what in checks:
        if key in schema and not isinstance(schema[key], type_):
            bad.append(fe.type_invalid(f"{path}.{key}", schema[key], f"must be {what}"))
    if isinstance(schema.get("required"), list) and not all(isinstance(r, str) for r in schema["required"]):
        bad.append(fe.type_invalid(f"{path}.required", schema["required"], "must be a list of strings"))
    extra = schema.get("additionalProperties")
    if extra is not None and not isinstance(extra, bool | dict):
        bad.append(fe.type_invalid(f"{path}.additionalProperties", extra, "must be a boolean or a schema object"))
    out += bad
    return not bad


def _node(schema: Obj, path: str, out: list[Cause], root: bool = False) -> None:
    if not _keyword_types(schema, path, out):
        return
    for key in FORBIDDEN_KEYWORDS:
        if key in schema:
            out.append(fe.forbidden(f"{path}.{key}", f"{key} is not supported"))
    type_ = schema.get("type")
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if type_ not in (None, "") and type_ not in TYPES:
        out.append(fe.not_supported(f"{path}.type", type_, TYPES))
    if not root and type_ in (None, "") and not int_or_string and not preserve:
        out.append(fe.required(f"{path}.type", "must not be empty for specified object fields"))
    if int_or_string and type_ not in (None, ""):
        out.append(fe.forbidden(f"{path}.type", "must be empty if x-kubernetes-int-or-string is true"))
    if schema.get("x-kubernetes-embedded-resource") and type_ != "object":
        out.append(fe.required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if props is not None and extra not in (None, False):
        out.append(fe.forbidden(f"{path}.additionalProperties", "additionalProperties and properties are mutual "
                                                                "exclusive"))
    if isinstance(props, dict):
        if type_ not in (None, "object") and not root:
            out.append(fe.invalid(f"{path}.type", type_, "must be object if properties are specified"))
        for name, sub in props.items():
            if not isinstance(sub, dict):
                out.append(fe.invalid(f"{path}.properties[{name}]", sub, "must be a schema object"))
            elif not (root and name == "metadata"):
                _node(sub, f"{path}.properties[{name}]", out)
            for key in ("apiVersion", "kind"):
                if root and name == key and isinstance(sub, dict) and sub.get("type") not in (None, "string"):
                    out.append(fe.invalid(f"{path}.properties[{name}].type", sub.get("type"), "must be string"))
    if isinstance(extra, dict):
        _node(extra, f"{path}.additionalProperties", out)
    if type_ == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            out.append(fe.required(f"{path}.items", "must be specified"))
        else:
            _node(items, f"{path}.items", out)
    if "pattern" in schema:
        try:
            re.compile(str(schema["pattern"]))
        except re.error as err:
            out.append(fe.invalid(f"{path}.pattern", schema["pattern"], f"must be a valid regular expression, but "
                                                                        f"isn't: {err}"))
    for combinator in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(combinator) or []):
            if not isinstance(sub, dict):
                out.append(fe.type_invalid(f"{path}.{combinator}[{i}]", sub, "must be a schema object"))
            elif "type" in sub or "default" in sub or "nullable" in sub:
                for key in ("type", "default", "nullable"):
                    if key in sub:
                        out.append(fe.forbidden(f"{path}.{combinator}[{i}].{key}", "must be empty to be structural"))
