"""Sets of field paths as server-side apply tracks them, and their FieldsV1 encoding.

A path is a tuple of elements: `f:<field>` (struct field or map key), `k:<json of the key
fields>` (a list-map item, keys sorted by name), `v:<json value>` (a set item) or `i:<n>`.
A set holds the paths its owner manages ("members"). In FieldsV1 a member with children
carries `".": {}`, a member without children is `{}`, and a node without `.` only leads to
members below it, e.g. `{"f:spec": {"f:replicas": {}}}`.

`to_field_set` follows structured-merge-diff's ToFieldSet: scalars, atomic lists/maps, set
items, list-map items and map entries are members; struct fields only through their children
(or when empty). `compare` returns the members that changed between two objects.
"""

from __future__ import annotations

import json
from typing import Any

from ..schema.model import Field
from .typeinfo import Types, canonical, child_field, item_key, json_equal, list_semantics, shape

Path = tuple[str, ...]
_MISSING: Any = object()


def key_element(key: dict[str, Any]) -> str:
    return "k:" + json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def value_element(value: Any) -> str:
    return "v:" + canonical(value)


# FieldsV1 ------------------------------------------------------------------------------------
def _element_order(element: str) -> tuple[int, str]:
    return ("fkvi".find(element[0]) if element else 9, element)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    """Encode a set of member paths as a FieldsV1 object."""
    root: dict[str, Any] = {}
    members: set[Path] = set(paths)
    for path in paths:
        node = root
        for element in path:
            node = node.setdefault(element, {})

    def finish(node: dict[str, Any], prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and prefix in members:
            out["."] = {}
        for element in sorted(node, key=_element_order):
            out[element] = finish(node[element], prefix + (element,))
        return out

    return finish(root, ())


def from_fields_v1(fields: Any) -> set[Path]:
    """Decode a FieldsV1 object; anything malformed is skipped."""
    out: set[Path] = set()

    def walk(node: Any, prefix: Path) -> None:
        if not isinstance(node, dict):
            return
        for element, child in node.items():
            if element == ".":
                continue
            path = prefix + (element,)
            if not isinstance(child, dict) or not child or "." in child:
                out.add(path)
            walk(child, path)

    walk(fields, ())
    return out


def path_string(path: Path) -> str:
    """The form Kubernetes prints in conflicts: `.spec.containers[name="nginx"].image`."""
    parts = []
    for element in path:
        kind, rest = element[:2], element[2:]
        if kind == "f:":
            parts.append("." + rest)
        elif kind == "k:":
            try:
                key = json.loads(rest)
                parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
            except (ValueError, AttributeError):
                parts.append(f"[{rest}]")
        elif kind == "v:":
            parts.append(f"[={rest}]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)


def walk_types(path: Path, root_type: str, types: Types) -> list[tuple[str, Field]]:
    """For each element of `path`, the type of its parent value and its own description."""
    out = []
    parent = root_type
    for element in path:
        if element.startswith("f:"):
            field = child_field(parent, element[2:], types)
        else:
            field = Field(shape(parent, types).elem or "object")
        out.append((parent, field))
        parent = field.type
    return out


def ensure_named_fields(paths: set[Path], root_type: str, types: Types) -> set[Path]:
    """`paths` plus every struct field that leads to one of them (structured-merge-diff's
    EnsureNamedFieldsAreMembers): such a field is kept while anything under it is owned."""
    out = set(paths)
    for path in paths:
        for i, (parent, _field) in enumerate(walk_types(path, root_type, types)[:-1]):
            if path[i].startswith("f:") and shape(parent, types).kind == "struct":
                out.add(path[:i + 1])
    return out


# ToFieldSet ----------------------------------------------------------------------------------
def _granular_map(field: Field, types: Types) -> bool:
    return shape(field.type, types).kind in ("struct", "map", "object") and field.map_type != "atomic"


def to_field_set(obj: dict[str, Any], root_type: str, types: Types) -> set[Path]:
    out: set[Path] = set()
    _members(obj, root_type, (), out, types)
    return out


def _members(obj: dict[str, Any], type_str: str, path: Path, out: set[Path], types: Types) -> None:
    named = shape(type_str, types).kind == "struct"
    for key, value in obj.items():
        sub = path + ("f:" + key,)
        field = child_field(type_str, key, types)
        if value is not None:
            _value(value, field, sub, out, types)
        if value is None or not named or value == {}:
            out.add(sub)


def _value(value: Any, field: Field, path: Path, out: set[Path], types: Types) -> None:
    sh = shape(field.type, types)
    if isinstance(value, dict) and _granular_map(field, types):
        _members(value, field.type, path, out, types)
    elif isinstance(value, list) and sh.kind == "list":
        semantics, keys = list_semantics(field, types)
        if semantics == "map":
            for item in value:
                key = item_key(item, keys)
                if key is None:
                    continue
                item_path = path + (key_element(key),)
                out.add(item_path)
                if isinstance(item, dict):
                    _members(item, sh.elem, item_path, out, types)
        elif semantics == "set":
            out.update(path + (value_element(item),) for item in value)
        else:
            out.add(path)
    else:
        out.add(path)


# Compare -------------------------------------------------------------------------------------
def compare(old: dict[str, Any] | None, new: dict[str, Any] | None, root_type: str, types: Types
            ) -> tuple[set[Path], set[Path]]:
    """(members added or modified, members removed) going from `old` to `new`."""
    changed: set[Path] = set()
    removed: set[Path] = set()
    _cmp_members(old or {}, new or {}, root_type, (), changed, removed, types)
    return changed, removed


def _cmp_members(a: dict[str, Any], b: dict[str, Any], type_str: str, path: Path, changed: set[Path],
                 removed: set[Path], types: Types) -> None:
    entries = shape(type_str, types).kind != "struct"
    for key in list(a) + [k for k in b if k not in a]:
        field = child_field(type_str, key, types)
        _cmp_value(a.get(key, _MISSING), b.get(key, _MISSING), field, path + ("f:" + key,), entries,
                   changed, removed, types)


def _cmp_value(x: Any, y: Any, field: Field, path: Path, entry: bool, changed: set[Path], removed: set[Path],
               types: Types) -> None:
    x = _MISSING if x is None else x
    y = _MISSING if y is None else y
    if x is _MISSING and y is _MISSING:
        return
    sh = shape(field.type, types)
    if _granular_map(field, types) and _is(x, dict) and _is(y, dict):
        if x is _MISSING and (entry or not y):
            changed.add(path)
        elif y is _MISSING and (entry or not x):
            removed.add(path)
        _cmp_members(x if x is not _MISSING else {}, y if y is not _MISSING else {}, field.type, path,
                     changed, removed, types)
        return
    if sh.kind == "list" and _is(x, list) and _is(y, list):
        semantics, keys = list_semantics(field, types)
        xs = x if x is not _MISSING else []
        ys = y if y is not _MISSING else []
        if semantics == "map":
            xa, yb = _by_key(xs, keys), _by_key(ys, keys)
            elem = Field(sh.elem)
            for element in list(xa) + [k for k in yb if k not in xa]:
                _cmp_value(xa.get(element, _MISSING), yb.get(element, _MISSING), elem, path + (element,), True,
                           changed, removed, types)
            return
        if semantics == "set":
            xv = {value_element(v) for v in xs}
            yv = {value_element(v) for v in ys}
            changed.update(path + (e,) for e in yv - xv)
            removed.update(path + (e,) for e in xv - yv)
            return
    if x is _MISSING:
        changed.add(path)
    elif y is _MISSING:
        removed.add(path)
    elif not json_equal(x, y):
        changed.add(path)


def _is(value: Any, kind: type) -> bool:
    return value is _MISSING or isinstance(value, kind)


def _by_key(items: list[Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key = item_key(item, keys)
        if key is not None:
            out.setdefault(key_element(key), item)
    return out
