"""The value side of server-side apply: merging an applied configuration into the live object,
and removing owned paths from an object (pruning).

Merge follows structured-merge-diff: struct fields and map entries merge recursively, list-maps
merge item by item on their keys (live-only items keep their place, applied items come in the
applied order), sets are unions, atomic lists and scalars take the applied value.
"""

from __future__ import annotations

import copy
from typing import Any

from ..schema.model import Field
from .fieldset import Path, key_element
from .typeinfo import Types, canonical, child_field, item_key, list_semantics, shape

MISSING: Any = object()
_MISSING = MISSING


class ConfigError(Exception):
    """The applied configuration cannot be merged (a list-map item without its key, duplicates)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


def strip_nulls(value: Any) -> Any:
    """An applied configuration with `null` fields removed (they mean "not specified")."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def apply_merge(live: dict[str, Any], config: dict[str, Any], root_type: str, types: Types) -> dict[str, Any]:
    """`config` merged into `live` (neither modified)."""
    merged: dict[str, Any] = _merge(copy.deepcopy(live), copy.deepcopy(config), Field(root_type), "", types)
    return merged


def _granular(field: Field, types: Types) -> bool:
    return shape(field.type, types).kind in ("struct", "map", "object") and field.map_type != "atomic"


def _merge(live: Any, config: Any, field: Field, path: str, types: Types) -> Any:
    sh = shape(field.type, types)
    if isinstance(config, dict) and _granular(field, types):
        out = dict(live) if isinstance(live, dict) else {}
        for key, value in config.items():
            sub = f"{path}.{key}"
            out[key] = _merge(out.get(key, _MISSING), value, child_field(field.type, key, types), sub, types)
        return out
    if isinstance(config, list) and sh.kind == "list":
        semantics, keys = list_semantics(field, types)
        old = live if isinstance(live, list) else []
        if semantics == "map":
            return _merge_list_map(old, config, keys, Field(sh.elem), path, types)
        if semantics == "set":
            seen = {canonical(v) for v in old}
            union = list(old)
            for v in config:
                if canonical(v) not in seen:
                    seen.add(canonical(v))
                    union.append(v)
            return union
    return config


def _merge_list_map(live: list[Any], config: list[Any], keys: tuple[str, ...], elem: Field, path: str,
                    types: Types) -> list[Any]:
    config_keys: list[str] = []
    for i, item in enumerate(config):
        key = item_key(item, keys)
        if key is None:
            raise ConfigError(f"{path}[{i}]", f"list item must be an object with the key field(s) "
                                              f"{', '.join(keys)}")
        element = key_element(key)
        if element in config_keys:
            raise ConfigError(f"{path}[{i}]", f"duplicate entries for key {element[2:]}")
        config_keys.append(element)
    live_keys: list[str | None] = []
    for item in live:
        key = item_key(item, keys)
        live_keys.append(key_element(key) if key is not None else None)
    in_config = dict(zip(config_keys, config, strict=True))
    live_by_key: dict[str, Any] = {}
    for live_key, item in zip(live_keys, live, strict=True):
        if live_key is not None:
            live_by_key.setdefault(live_key, item)
    out: list[Any] = []
    done: set[str] = set()
    i = j = 0
    while i < len(live) or j < len(config):
        if i < len(live):
            live_key = live_keys[i]
            if live_key is None or live_key not in in_config:
                out.append(live[i])
                i += 1
                continue
            if live_key in done:
                i += 1
                continue
        if j < len(config):
            config_key = config_keys[j]
            sub = f"{path}[{j}]"
            out.append(_merge(live_by_key.get(config_key, _MISSING), config[j], elem, sub, types))
            done.add(config_key)
            j += 1
        else:
            i += 1
    return out


def has_path(obj: Any, path: Path, root_type: str, types: Types) -> bool:
    return _locate(obj, path, Field(root_type), types) is not None


def value_at(obj: Any, path: Path, root_type: str, types: Types) -> Any:
    """The value at `path` in `obj`, or `MISSING`."""
    found = _locate(obj, path, Field(root_type), types)
    return MISSING if found is None else found[0]


def remove_path(obj: Any, path: Path, root_type: str, types: Types) -> None:
    """Remove the member at `path` (and everything under it) from `obj`, in place."""
    if not path:
        return
    found = _locate(obj, path[:-1], Field(root_type), types)
    if found is None:
        return
    parent, field = found
    element = path[-1]
    if element.startswith("f:") and isinstance(parent, dict):
        parent.pop(element[2:], None)
    elif isinstance(parent, list):
        parent[:] = [x for x in parent if not _matches(x, element, field, types)]


def _matches(item: Any, element: str, list_field: Field, types: Types) -> bool:
    if element.startswith("k:"):
        _semantics, keys = list_semantics(list_field, types)
        key = item_key(item, keys) if keys else None
        return key is not None and key_element(key) == element
    if element.startswith("v:"):
        return "v:" + canonical(item) == element
    return False


def _locate(value: Any, path: Path, field: Field, types: Types) -> tuple[Any, Field] | None:
    """The value at `path` and its description, or None when absent."""
    for element in path:
        if element.startswith("f:"):
            if not isinstance(value, dict) or element[2:] not in value:
                return None
            field = child_field(field.type, element[2:], types)
            value = value[element[2:]]
        elif isinstance(value, list):
            item_field = Field(shape(field.type, types).elem or "object")
            found = [x for x in value if _matches(x, element, field, types)]
            if not found:
                return None
            value, field = found[0], item_field
        else:
            return None
    return value, field
