"""JSON merge patch (RFC 7386), as `kubectl scale/label/annotate` send it, and its inverse."""

from __future__ import annotations

import copy
from typing import Any

from .typeinfo import json_equal


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` (neither is modified): objects merge key by key, null deletes,
    anything else replaces."""
    return _merge(copy.deepcopy(target), copy.deepcopy(patch))


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """A merge patch that turns `original` into `modified` (which must hold no null inside objects:
    a merge patch cannot express them)."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return copy.deepcopy(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy.deepcopy(value)
        elif not json_equal(original[key], value):
            if isinstance(original[key], dict) and isinstance(value, dict):
                patch[key] = create_merge_patch(original[key], value)
            else:
                patch[key] = copy.deepcopy(value)
    return patch
