"""Label selectors (`metav1.LabelSelector`): validation, matching, and kubectl's string form."""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .names import is_label_value, is_qualified_name

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_labels(labels: Any, path: str) -> list[Cause]:
    """Label keys are qualified names, values label values; errors name the map (`metadata.labels`)."""
    out: list[Cause] = []
    if labels is None:
        return out
    if not isinstance(labels, dict):
        return [fe.type_invalid(path, labels, "must be a map of string keys to string values")]
    for key, value in labels.items():
        out.extend(fe.invalid(path, key, msg) for msg in is_qualified_name(str(key)))
        if not isinstance(value, str):
            out.append(fe.type_invalid(path, value, "must be a string"))
            continue
        out.extend(fe.invalid(path, value, msg) for msg in is_label_value(value))
    return out


def validate_selector(selector: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if selector is None:
        return out
    if not isinstance(selector, dict):
        return [fe.type_invalid(path, selector, "must be a label selector object")]
    out.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    expressions = selector.get("matchExpressions")
    if expressions is not None and not isinstance(expressions, list):
        return [*out, fe.type_invalid(f"{path}.matchExpressions", expressions, "must be a list")]
    for i, expr in enumerate(fe.as_list(expressions)):
        epath = f"{path}.matchExpressions[{i}]"
        expr = fe.as_dict(expr)
        op, values = expr.get("operator"), expr.get("values")
        if op in ("In", "NotIn"):
            if not values:
                out.append(fe.required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(fe.forbidden(f"{epath}.values",
                                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            out.append(fe.invalid(f"{epath}.operator", op, "not a valid selector operator"))
        key = expr.get("key")
        if not isinstance(key, str) or not key:
            out.append(fe.required(f"{epath}.key", ""))
        else:
            out.extend(fe.invalid(f"{epath}.key", key, msg) for msg in is_qualified_name(key))
        for j, value in enumerate(fe.as_list(values)):
            if not isinstance(value, str):
                out.append(fe.type_invalid(f"{epath}.values[{j}]", value, "must be a string"))
            else:
                out.extend(fe.invalid(f"{epath}.values[{j}]", value, msg) for msg in is_label_value(value))
    return out


def is_empty(selector: Any) -> bool:
    selector = fe.as_dict(selector)
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def matches(selector: Any, labels: Any) -> bool:
    """Whether a LabelSelector selects these labels (an empty selector selects everything)."""
    selector, labels = fe.as_dict(selector), fe.as_dict(labels)
    for key, value in fe.as_dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in fe.as_list(selector.get("matchExpressions")):
        expr = fe.as_dict(expr)
        key, op, values = fe.key(expr.get("key")), expr.get("operator"), fe.as_list(expr.get("values"))
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in OPERATORS:
            return False
    return True


def selector_string(selector: Any) -> str:
    """kubectl's `LabelSelectorAsSelector(s).String()`: `app=web,tier in (a,b),!canary`."""
    selector = fe.as_dict(selector)
    parts: list[tuple[str, str]] = []
    for key, value in fe.as_dict(selector.get("matchLabels")).items():
        parts.append((key, f"{key}={value}"))
    for expr in fe.as_list(selector.get("matchExpressions")):
        expr = fe.as_dict(expr)
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = ",".join(sorted(str(v) for v in fe.as_list(expr.get("values"))))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(str(op), key)
        parts.append((key, text))
    parts.sort(key=lambda p: p[0])
    return ",".join(text for _, text in parts)


def format_selector(selector: Any) -> str:
    """kubectl's `FormatLabelSelector`: like `selector_string`, `<none>` when empty."""
    return selector_string(selector) or "<none>"
