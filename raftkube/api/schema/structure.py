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
from typing import Any

from ..errors import APIError, Cause
from . import TYPES
from .model import Field

QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
ROOT_FIELDS = ("apiVersion", "kind")


def check_structure(obj: dict[str, Any], root_type: str) -> tuple[list[str], list[Cause]]:
    """(unknown field paths, type errors) of `obj` against the type `root_type` (a key of TYPES)."""
    unknown: list[str] = []
    causes: list[Cause] = []
    if not isinstance(obj, dict):
        causes.append(_type_cause("<root>", obj, "object"))
        return unknown, causes
    _check_struct(obj, root_type, "", unknown, causes, root=True)
    return unknown, causes


def prune_unknown(obj: dict[str, Any], root_type: str) -> dict[str, Any]:
    """A deep copy of `obj` without the fields the schema does not know (fieldValidation=Ignore)."""
    return _prune_struct(obj, root_type, root=True)


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
                  root: bool = False) -> None:
    fields = TYPES[type_name]
    for key, item in value.items():
        sub = _join(path, key)
        field = fields.get(key)
        if field is None:
            if root and key in ROOT_FIELDS:
                if item is not None and not isinstance(item, str):
                    causes.append(_type_cause(sub, item, "string"))
                continue
            unknown.append(sub)
            continue
        _check_value(item, field.type, field, sub, unknown, causes)


def _check_value(value: Any, type_: str, field: Field, path: str, unknown: list[str], causes: list[Cause]) -> None:
    if value is None or type_ == "any":
        return
    if type_.startswith("[]"):
        if not isinstance(value, list):
            causes.append(_type_cause(path, value, "array"))
            return
        for index, item in enumerate(value):
            _check_value(item, type_[2:], field, f"{path}[{index}]", unknown, causes)
        return
    if type_.startswith("map[string]"):
        if not isinstance(value, dict):
            causes.append(_type_cause(path, value, "object"))
            return
        for key, item in value.items():
            _check_value(item, type_[len("map[string]"):], field, _join(path, key), unknown, causes)
        return
    if type_ in TYPES:
        if not isinstance(value, dict):
            causes.append(_type_cause(path, value, "object"))
            return
        _check_struct(value, type_, path, unknown, causes)
        return
    cause = _check_scalar(value, type_, field.format, path)
    if cause is not None:
        causes.append(cause)


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


def _prune_struct(value: dict[str, Any], type_name: str, root: bool = False) -> dict[str, Any]:
    fields = TYPES[type_name]
    out: dict[str, Any] = {}
    for key, item in value.items():
        field = fields.get(key)
        if field is not None:
            out[key] = _prune_value(item, field.type)
        elif root and key in ROOT_FIELDS:
            out[key] = item
    return out


def _prune_value(value: Any, type_: str) -> Any:
    if type_.startswith("[]") and isinstance(value, list):
        return [_prune_value(item, type_[2:]) for item in value]
    if type_.startswith("map[string]") and isinstance(value, dict):
        return {key: _prune_value(item, type_[len("map[string]"):]) for key, item in value.items()}
    if type_ in TYPES and isinstance(value, dict):
        return _prune_struct(value, type_)
    return copy.deepcopy(value)
