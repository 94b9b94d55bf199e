"""Value constraints of custom resource schemas (enum, bounds, lengths, patterns, sizes).

`check_constraints(value, constraints, path)` gives the causes Kubernetes' CRD validation
reports (kube-openapi's messages, as the apiextensions server turns them into field errors):
`Unsupported value: "x": supported values: "a", "b"`, `Invalid value: 20: spec.replicas in body
should be less than or equal to 10`, `Too long: may not be more than 5 bytes`, `Too many: 4: must
have at most 3 items`. Built-in types carry no constraints, so this never runs for them. The value
already has the right JSON type (the structural check ran first).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from ..errors import Cause
from .model import Constraints


def _show(value: Any) -> str:
    """A value as Kubernetes quotes it: strings quoted, numbers bare, others as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {_show(value)}: {path} in body {detail}", "FieldValueInvalid")


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_constraints(value: Any, c: Constraints, path: str) -> list[Cause]:
    """The causes for `value` (at `path`) breaking the constraints `c` of its own level."""
    out: list[Cause] = []
    if c.enum is not None and value not in c.enum:
        allowed = ", ".join(_show(v) for v in c.enum)
        out.append(Cause(path, f"Unsupported value: {_show(value)}: supported values: {allowed}",
                         "FieldValueNotSupported"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        out.extend(_number(value, c, path))
    elif isinstance(value, str):
        out.extend(_string(value, c, path))
    elif isinstance(value, list):
        out.extend(_sized(value, c.min_items, c.max_items, "items", path))
    elif isinstance(value, dict):
        out.extend(_sized(value, c.min_properties, c.max_properties, "properties", path))
    return out


def _number(value: float, c: Constraints, path: str) -> list[Cause]:
    out = []
    if c.minimum is not None:
        if c.exclusive_minimum and value <= c.minimum:
            out.append(_invalid(path, value, f"should be greater than {_show(c.minimum)}"))
        elif value < c.minimum:
            out.append(_invalid(path, value, f"should be greater than or equal to {_show(c.minimum)}"))
    if c.maximum is not None:
        if c.exclusive_maximum and value >= c.maximum:
            out.append(_invalid(path, value, f"should be less than {_show(c.maximum)}"))
        elif value > c.maximum:
            out.append(_invalid(path, value, f"should be less than or equal to {_show(c.maximum)}"))
    if c.multiple_of and (value / c.multiple_of) % 1 != 0:
        out.append(_invalid(path, value, f"should be a multiple of {_show(c.multiple_of)}"))
    return out


def _string(value: str, c: Constraints, path: str) -> list[Cause]:
    out = []
    length = len(value)  # kube-openapi counts characters (runes)
    if c.max_length is not None and length > c.max_length:
        out.append(Cause(path, f"Too long: may not be more than {c.max_length} bytes", "FieldValueTooLong"))
    if c.min_length is not None and length < c.min_length:
        out.append(_invalid(path, value, f"should be at least {c.min_length} chars long"))
    if c.pattern is not None and not _pattern(c.pattern).search(value):
        out.append(_invalid(path, value, f"should match '{c.pattern}'"))
    return out


def _sized(value: list[Any] | dict[str, Any], low: int | None, high: int | None, what: str,
           path: str) -> list[Cause]:
    if high is not None and len(value) > high:
        return [Cause(path, f"Too many: {len(value)}: must have at most {high} items", "FieldValueTooMany")]
    if low is not None and len(value) < low:
        return [_invalid(path, value, f"should have at least {low} {what}")]
    return []
