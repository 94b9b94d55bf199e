"""Structural checks against the schema: unknown fields, wrong JSON types, and pruning.

`check_structure` is what Kubernetes' strict decoding does for built-in kinds: it finds
fields the schema does not know (`spec.containers[0].imagePullPolcy`) and values of the
wrong JSON type (`spec.replicas: "three"`). `null` is accepted anywhere (it decodes to the
zero value). `apiVersion` and `kind` are allowed at the root of every type; `metadata` and
`status` are checked like any other field. The server decides what unknown fields mean
(`fieldValidation=Strict|Warn|Ignore`): see `strict_decoding_error`, `unknown_field_warnings`
and `prune_unknown`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping
from typing import Any

from ..errors import APIError, Cause
from . import TYPES
from .constraints import check_constraints
from .model import Constraints, Field, TypeFields

Types = Mapping[str, TypeFields]

QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
ROOT_FIELDS = ("apiVersion", "kind")


def check_structure(obj: dict[str, Any], root_type: str, types: Types = TYPES,
                    preserve_unknown: bool = False) -> tuple[list[str], list[Cause]]:
    """(unknown field paths, type errors) of `obj` against the type `root_type` (a key of `types`).

    `types` other than the built-in TYPES: a custom resource's (`openapi_import.crd_schema`), whose
    root may keep unknown fields (`preserve_unknown`) and whose fields may carry value constraints.
    """
    unknown: list[str] = []
    causes: list[Cause] = []
    if not isinstance(obj, dict):
        causes.append(_type_cause("<root>", obj, "object"))
        return unknown, causes
    _check_struct(obj, root_type, "", unknown, causes, types, root=True, preserve=preserve_unknown)
    return unknown, causes


def prune_unknown(obj: dict[str, Any], root_type: str, types: Types = TYPES,
                  preserve_unknown: bool = False) -> dict[str, Any]:
    """A deep copy of `obj` without the fields the schema does not know (fieldValidation=Ignore)."""
    return _prune_struct(obj, root_type, types, root=True, preserve=preserve_unknown)


def strict_decoding_error(kind: str, version: str, unknown: list[str]) -> APIError:
    """The 400 BadRequest Kubernetes answers under fieldValidation=Strict."""
    fields = ", ".join(f'unknown field "{path}"' for path in unknown)
    return APIError(400, "BadRequest",
                    f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {fields}')


def unknown_field_warnings(unknown: list[str]) -> list[str]:
    """The warnings (for `Warning: 299 - "..."` headers) Kubernetes sends under fieldValidation=Warn."""
    return [f'unknown field "{path}"' for path in unknown]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_cause(path: str, value: Any, expected: str) -> Cause:
    return Cause(path, f'Invalid value: "{_json_type(value)}": {path} in body must be of type {expected}',
                 "FieldValueTypeInvalid")


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_struct(value: dict[str, Any], type_name: str, path: str, unknown: list[str], causes: list[Cause],
                  types: Types, root: bool = False, preserve: bool = False) -> None:
    fields = types[type_name]
    for key, item in value.items():
        sub = _join(path, key)
        field = fields.get(key)
        if field is None:
            if root and key in ROOT_FIELDS:
                if item is not None and not isinstance(item, str):
                    causes.append(_type_cause(sub, item, "string"))
                continue
            if not preserve:
                unknown.append(sub)
            continue
        if field.constraints is None:
            _check_value(item, field.type, field, sub, unknown, causes, types)
        else:
            _check_constrained(item, field.type, field, sub, unknown, causes, types, field.constraints)


def _check_value(value: Any, type_: str, field: Field, path: str, unknown: list[str], causes: list[Cause],
                 types: Types) -> None:
    if value is None or type_ == "any":
        return
    if type_.startswith("[]"):
        if not isinstance(value, list):
            causes.append(_type_cause(path, value, "array"))
            return
        for index, item in enumerate(value):
            _check_value(item, type_[2:], field, f"{path}[{index}]", unknown, causes, types)
        return
    if type_.startswith("map[string]"):
        if not isinstance(value, dict):
            causes.append(_type_cause(path, value, "object"))
            return
        for key, item in value.items():
            _check_value(item, type_[len("map[string]"):], field, _join(path, key), unknown, causes, types)
        return
    if type_ in types:
        if not isinstance(value, dict):
            causes.append(_type_cause(path, value, "object"))
            return
        _check_struct(value, type_, path, unknown, causes, types, preserve=field.preserve_unknown)
        return
    cause = _check_scalar(value, type_, field.format, path)
    if cause is not None:
        causes.append(cause)


def _check_constrained(value: Any, type_: str, field: Field, path: str, unknown: list[str], causes: list[Cause],
                       types: Types, constraints: Constraints | None) -> None:
    """`_check_value` plus the custom resource constraints of this level and of the elements below.

    A list's or map's own constraints (sizes) are checked after its elements', as Kubernetes orders them;
    a value of the wrong JSON type gets its type error only.
    """
    if constraints is None or value is None:
        _check_value(value, type_, field, path, unknown, causes, types)
        return
    if constraints.items is not None and type_.startswith("[]") and isinstance(value, list):
        for index, item in enumerate(value):
            _check_constrained(item, type_[2:], field, f"{path}[{index}]", unknown, causes, types,
                               constraints.items)
    elif constraints.items is not None and type_.startswith("map[string]") and isinstance(value, dict):
        for key, item in value.items():
            _check_constrained(item, type_[len("map[string]"):], field, _join(path, key), unknown, causes, types,
                               constraints.items)
    else:
        before = len(causes)
        _check_value(value, type_, field, path, unknown, causes, types)
        if any(cause.reason == "FieldValueTypeInvalid" for cause in causes[before:]):
            return
    causes.extend(check_constraints(value, constraints, path))


def _check_scalar(value: Any, type_: str, fmt: str, path: str) -> Cause | None:
    if type_ == "string":
        if not isinstance(value, str):
            return _type_cause(path, value, "string")
        if fmt == "byte" and not _is_base64(value):
            return Cause(path, f'Invalid value: "string": {path} in body must be base64-encoded (illegal base64 '
                         f'data)', "FieldValueInvalid")
        return None
    if type_ == "integer":
        if not _is_int(value):
            return _type_cause(path, value, "integer")
        low, high = INT_RANGES.get(fmt or "int64", INT_RANGES["int64"])
        if value > high:
            return Cause(path, f"Invalid value: {int(value)}: {path} in body should be less than or equal to {high}")
        if value < low:
            return Cause(path, f"Invalid value: {int(value)}: {path} in body should be greater than or equal to "
                         f"{low}")
        return None
    if type_ == "number":
        return None if _is_number(value) else _type_cause(path, value, "number")
    if type_ == "boolean":
        return None if isinstance(value, bool) else _type_cause(path, value, "boolean")
    if type_ == "int-or-string":
        return None if _is_int(value) or isinstance(value, str) else _type_cause(path, value, "integer or string")
    if type_ == "quantity":
        if _is_number(value):
            return None
        if not isinstance(value, str):
            return _type_cause(path, value, "string or number")
        if not QUANTITY_RE.match(value):
            return Cause(path, f'Invalid value: "{value}": quantities must match the regular expression '
                         f"'{QUANTITY_RE.pattern}'")
        return None
    if type_ == "time":
        if not isinstance(value, str):
            return _type_cause(path, value, "string")
        if not TIME_RE.match(value):
            return Cause(path, f'Invalid value: "{value}": {path} in body must be of type date-time (RFC 3339)')
        return None
    if type_ == "object":
        return None if isinstance(value, dict) else _type_cause(path, value, "object")
    raise KeyError(f"unknown schema type {type_!r} at {path}")


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _prune_struct(value: dict[str, Any], type_name: str, types: Types, root: bool = False,
                  preserve: bool = False) -> dict[str, Any]:
    fields = types[type_name]
    out: dict[str, Any] = {}
    for key, item in value.items():
        field = fields.get(key)
        if field is not None:
            out[key] = _prune_value(item, field.type, types, field.preserve_unknown)
        elif (root and key in ROOT_FIELDS) or preserve:
            out[key] = copy.deepcopy(item)
    return out


def _prune_value(value: Any, type_: str, types: Types, preserve: bool) -> Any:
    if type_.startswith("[]") and isinstance(value, list):
        return [_prune_value(item, type_[2:], types, preserve) for item in value]
    if type_.startswith("map[string]") and isinstance(value, dict):
        return {key: _prune_value(item, type_[len("map[string]"):], types, preserve) for key, item in value.items()}
    if type_ in types and isinstance(value, dict):
        return _prune_struct(value, type_, types, preserve=preserve)
    return copy.deepcopy(value)
