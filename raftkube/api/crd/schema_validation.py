"""A custom resource against its CRD's structural schema: pruning, defaulting, validation.

Works on the OpenAPI v3 schema of a CRD version (`openAPIV3Schema`) as kube-apiserver's
apiextensions server does, in its order: unknown fields are pruned (kept below
`x-kubernetes-preserve-unknown-fields: true`), defaults are applied (on writes and on reads
from storage), then the value is validated with kube-openapi's messages, e.g.
`spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"`.
The root's apiVersion, kind and metadata are the server's (metadata is checked as ObjectMeta
by the caller); below `x-kubernetes-embedded-resource` they are kept as well.

(The schemagen converter to raftkube's `Field` model may replace the walk here later: this
module is the one place that reads the JSON schema, so the switch touches nothing else.)
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..errors import Cause
from ..kinds import fielderr as fe

Obj = dict[str, Any]
ROOT_KEYS = ("apiVersion", "kind", "metadata")
EMBEDDED_META = ("name", "namespace", "generateName", "labels", "annotations", "finalizers", "uid",
                 "resourceVersion", "creationTimestamp", "ownerReferences")


def go_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _preserves(schema: Obj) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


# ------------------------------------------------------------------ pruning
def prune(value: Any, schema: Obj, root: bool = False) -> list[str]:
    """Drop fields the schema does not name (in place); returns the paths dropped."""
    dropped: list[str] = []
    _prune(value, schema, "", root, dropped)
    return dropped


def _prune(value: Any, schema: Obj, path: str, root: bool, dropped: list[str]) -> None:
    if isinstance(value, dict):
        props: Obj = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
        for key in list(value):
            if embedded and key in ROOT_KEYS:
                if key == "metadata" and not root and isinstance(value[key], dict):
                    for meta_key in [k for k in value[key] if k not in EMBEDDED_META]:
                        del value[key][meta_key]
                        dropped.append(_join(_join(path, key), meta_key))
                continue
            if key in props:
                _prune(value[key], props[key], _join(path, key), False, dropped)
            elif isinstance(extra, dict):
                _prune(value[key], extra, _join(path, key), False, dropped)
            elif extra is True or _preserves(schema):
                continue
            else:
                del value[key]
                dropped.append(_join(path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(item, schema["items"], f"{path}[{i}]", False, dropped)


# ---------------------------------------------------------------- defaulting
def apply_defaults(value: Any, schema: Obj) -> None:
    """Set `default` values of missing properties, at every depth (in place)."""
    if isinstance(value, dict):
        props: Obj = schema.get("properties") or {}
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                apply_defaults(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in props:
                    apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


# ---------------------------------------------------------------- validation
def validate(value: Any, schema: Obj, path: str = "", root: bool = True) -> list[Cause]:
    """Causes in kube-openapi's words; the root's apiVersion/kind/metadata are not checked here."""
    out: list[Cause] = []
    _validate(value, schema, path, root, out)
    return out


def _type_ok(value: Any, schema: Obj) -> str | None:
    """None when `value` has the schema's type, else the message's expected type."""
    if schema.get("x-kubernetes-int-or-string"):
        return None if isinstance(value, str) or go_type(value) == "integer" else "integer,string"
    want = schema.get("type")
    if not want:
        return None
    actual = go_type(value)
    if actual == want or (want == "number" and actual == "integer"):
        return None
    return str(want)


def _validate(value: Any, schema: Obj, path: str, root: bool, out: list[Cause]) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            out.append(fe.type_invalid(path, "null", f"{path} in body must be of type {schema['type']}: \"null\""))
        return
    wanted = _type_ok(value, schema)
    if wanted is not None:
        out.append(fe.type_invalid(path, go_type(value), f"{path} in body must be of type {wanted}: "
                                   f"\"{go_type(value)}\""))
        return
    if "enum" in schema and value not in schema["enum"]:
        out.append(fe.not_supported(path, value, [fe.show(v).strip('"') for v in schema["enum"]]))
    if isinstance(value, str):
        _validate_string(value, schema, path, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, out)
    elif isinstance(value, list):
        _validate_array(value, schema, path, out)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, root, out)


def _validate_string(value: str, schema: Obj, path: str, out: list[Cause]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(Cause(path, f"Too long: may not be more than {schema['maxLength']} bytes", "FieldValueTooLong"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(fe.invalid(path, value, f"{path} in body should be at least {schema['minLength']} chars long"))
    pattern = schema.get("pattern")
    if pattern is not None:
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # (the CRD's validation refused bad patterns; an older one is not held against data)
        if not matched:
            out.append(fe.invalid(path, value, f"{path} in body should match '{pattern}'"))


def _validate_number(value: float, schema: Obj, path: str, out: list[Cause]) -> None:
    if "maximum" in schema:
        limit = schema["maximum"]
        if schema.get("exclusiveMaximum") and value >= limit:
            out.append(fe.invalid(path, value, f"{path} in body should be less than {limit}"))
        elif value > limit:
            out.append(fe.invalid(path, value, f"{path} in body should be less than or equal to {limit}"))
    if "minimum" in schema:
        limit = schema["minimum"]
        if schema.get("exclusiveMinimum") and value <= limit:
            out.append(fe.invalid(path, value, f"{path} in body should be greater than {limit}"))
        elif value < limit:
            out.append(fe.invalid(path, value, f"{path} in body should be greater than or equal to {limit}"))
    if schema.get("multipleOf") and value % schema["multipleOf"] != 0:
        out.append(fe.invalid(path, value, f"{path} in body should be a multiple of {schema['multipleOf']}"))


def _validate_array(value: list[Any], schema: Obj, path: str, out: list[Cause]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(Cause(path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                         "FieldValueTooMany"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(fe.invalid(path, len(value), f"{path} in body should have at least {schema['minItems']} items"))
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", False, out)
    if schema.get("x-kubernetes-list-type") == "set" or schema.get("uniqueItems"):
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                out.append(fe.duplicate(f"{path}[{i}]", item))
            seen.append(item)


def _validate_object(value: Obj, schema: Obj, path: str, root: bool, out: list[Cause]) -> None:
    props: Obj = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in value:
            out.append(fe.required(_join(path, key), ""))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        out.append(Cause(path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
                         "FieldValueTooMany"))
    embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if embedded and key in ROOT_KEYS and key not in props:
            continue
        if root and key == "metadata":
            continue
        if key in props:
            _validate(item, props[key], _join(path, key), False, out)
        elif isinstance(extra, dict):
            _validate(item, extra, _join(path, key), False, out)
    if schema.get("x-kubernetes-embedded-resource") and not root:
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                out.append(fe.required(_join(path, key), "must not be empty"))
