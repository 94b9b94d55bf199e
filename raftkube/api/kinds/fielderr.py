"""Field errors as Kubernetes words them (`field.ErrorList`), plus small type helpers.

Each helper returns a `Cause` whose `message` is what Kubernetes calls the error body
(`Required value`, `Invalid value: "x": detail`, ...) and whose `reason` is the
`FieldValue...` cause type kubectl prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeGuard

from ..errors import Cause

Obj = dict[str, Any]


def show(value: Any) -> str:
    """A value as Kubernetes quotes it in messages: strings quoted, numbers bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, "Required value" + (f": {detail}" if detail else ""), "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {show(value)}: {detail}", "FieldValueInvalid")


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {show(value)}: {detail}", "FieldValueTypeInvalid")


def not_supported(path: str, value: Any, allowed: Iterable[str]) -> Cause:
    quoted = ", ".join(f'"{a}"' for a in allowed)
    return Cause(path, f"Unsupported value: {show(value)}: supported values: {quoted}", "FieldValueNotSupported")


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, f"Duplicate value: {show(value)}", "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, f"Forbidden: {detail}", "FieldValueForbidden")


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, f"Not found: {show(value)}", "FieldValueNotFound")


def too_long(path: str, limit: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")


def immutable(path: str, value: Any) -> Cause:
    return invalid(path, value, "field is immutable")


# --- type helpers: objects are untrusted JSON, so never assume a shape ---------------------

def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def key(value: Any) -> Any:
    """`value` made usable as a set member or dict key (lists and maps become their JSON text)."""
    return value if value is None or isinstance(value, str | int | float | bool) else show(value)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_str(out: list[Cause], path: str, value: Any) -> bool:
    """True when `value` is absent or a string; reports a type error otherwise."""
    if value is None or isinstance(value, str):
        return True
    out.append(type_invalid(path, value, "must be a string"))
    return False


def check_int(out: list[Cause], path: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> None:
    """Report a non-integer, or one outside [minimum, maximum], with Kubernetes' wording."""
    if value is None:
        return
    if not is_int(value):
        out.append(type_invalid(path, value, "must be an integer"))
        return
    if minimum is not None and maximum is not None:
        if not minimum <= value <= maximum:
            out.append(invalid(path, value, f"must be between {minimum} and {maximum}, inclusive"))
    elif minimum == 0 and value < 0:
        out.append(invalid(path, value, "must be greater than or equal to 0"))
    elif minimum == 1 and value < 1:
        out.append(invalid(path, value, "must be greater than 0"))
    elif minimum is not None and value < minimum:
        out.append(invalid(path, value, f"must be greater than or equal to {minimum}"))


def check_enum(out: list[Cause], path: str, value: Any, allowed: Iterable[str], *, required_: bool = False) -> None:
    allowed = list(allowed)
    if value is None or value == "":
        if required_:
            out.append(required(path, ""))
        return
    if value not in allowed:
        out.append(not_supported(path, value, allowed))
