"""The base every raftkube kind strategy builds on: metadata checks plus per-kind rules."""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from ..resources import by_kind_name
from . import fielderr as fe
from .base import KindStrategy
from .metadata import name_rule, validate_metadata

Obj = dict[str, Any]


def setdef(obj: Obj, key: str, value: Any) -> None:
    """Set `key` when it is missing or null (a Go pointer left nil)."""
    if obj.get(key) is None:
        obj[key] = value


def setdef_zero(obj: Obj, key: str, value: Any) -> None:
    """Set `key` when it is missing, null, 0 or "" (a Go value field left at its zero value)."""
    current = obj.get(key)
    if current is None or current == "" or (current == 0 and not isinstance(current, bool)):
        obj[key] = value


def child(obj: Obj, key: str) -> Obj:
    """`obj[key]` as a dict, created when missing or null (left alone when of another type)."""
    value = obj.get(key)
    if value is None:
        value = obj[key] = {}
    return value if isinstance(value, dict) else {}


CONDITION_STATUSES = ("True", "False", "Unknown")


def validate_conditions(conditions: Any, path: str) -> list[Cause]:
    """status.conditions: each needs a type and a status True/False/Unknown (clients require both)."""
    out: list[Cause] = []
    if conditions is not None and not isinstance(conditions, list):
        return [fe.type_invalid(path, conditions, "must be a list")]
    for i, cond in enumerate(fe.as_list(conditions)):
        cond = fe.as_dict(cond)
        if not cond.get("type"):
            out.append(fe.required(f"{path}[{i}].type", ""))
        fe.check_enum(out, f"{path}[{i}].status", cond.get("status"), CONDITION_STATUSES, required_=True)
    return out


class ObjectStrategy(KindStrategy):
    """Base of the raftkube strategies. `validate` checks the kind's own rules only (spec, data,
    status, immutability); the server checks metadata with `validate_metadata` beside it, and
    `validate_all` does both, in that order."""

    def __init__(self, kind: str | None = None, namespaced: bool | None = None) -> None:
        if kind is not None:
            self.kind = kind
        if namespaced is None:
            resource = by_kind_name(self.kind)
            namespaced = resource.namespaced if resource is not None else None
        self.namespaced = namespaced

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        """The kind's own rules (spec, data, status, immutability); no metadata checks."""
        return []

    def validate_all(self, obj: Obj, old: Obj | None) -> list[Cause]:
        """metadata (with this kind's name syntax) and then the kind's own rules."""
        return validate_metadata(obj, self.namespaced, old, rule=name_rule(self.kind)) + self.validate(obj, old)
