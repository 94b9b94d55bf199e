"""Strategic merge patch, applied as Kubernetes' apimachinery applies it on the server.

Each field's strategy comes from the schema: lists with strategy `merge` and a merge key are
merged item by item (containers by `name`, ports by `containerPort`), lists of scalars with
strategy `merge` are unions (finalizers), other lists are replaced; maps merge recursively and
`null` deletes a key. Directives: `$patch: replace|delete` in a map, `$patch: delete|replace`
items in a merge list, `$retainKeys`, `$deleteFromPrimitiveList/<f>` and
`$setElementOrder/<f>` (the order kubectl wants, items the patch does not name keep their
place relative to the live list). Free-form fields merge like a JSON merge patch.

Deliberate differences from apimachinery: a new value (no live counterpart) has its
directives resolved rather than dropped, a `merge` list of objects without a merge key is
replaced instead of failing, and every malformed directive is a 400 BadRequest.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import APIError, bad_request
from ..schema.model import Field
from .typeinfo import Types, canonical, child_field, resolve_types, shape

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"
_DROP = object()  # a new value that resolves to nothing (`$patch: delete`)
_MISSING = object()


def strategic_merge(original: dict[str, Any] | None, patch: Any, root_type: str, types: Types | None = None
                    ) -> dict[str, Any]:
    """Apply a decoded strategic merge patch to `original` (not modified) and return the result."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object, got " + type(patch).__name__)
    merger = _Merger(resolve_types(types))
    base = copy.deepcopy(original) if isinstance(original, dict) else None
    return merger.merge_map(base, copy.deepcopy(patch), root_type, "")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return canonical(a) == canonical(b)
    return type(a) is type(b) and a == b


def _strategies(field: Field) -> set[str]:
    return set((field.patch_strategy or "").split(","))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Merger:
    def __init__(self, types: Types) -> None:
        self.types = types

    def bad(self, path: str, message: str) -> APIError:
        return bad_request(f"invalid strategic merge patch at {path or '<root>'}: {message}")

    # maps -----------------------------------------------------------------------------------
    def merge_map(self, original: dict[str, Any] | None, patch: dict[str, Any], type_str: str,
                  path: str) -> dict[str, Any]:
        if DIRECTIVE in patch:
            directive = patch[DIRECTIVE]
            if directive == "replace":
                return self.merge_map(None, {k: v for k, v in patch.items() if k != DIRECTIVE}, type_str, path)
            if directive == "delete":
                return {}
            raise self.bad(path, f"unknown patch type {directive!r} in a map (expected replace or delete)")
        result = dict(original) if original else {}
        patch = dict(patch)
        if RETAIN_KEYS in patch:
            result = self.retain_keys(result, patch, path)
        for key in [k for k in patch if k.startswith(SET_ORDER)]:
            self.set_element_order(result, patch, key, type_str, path)
        for key, value in patch.items():
            if key.startswith(DELETE_PRIMITIVES):
                self.delete_primitives(result, key, value, path)
                continue
            if value is None:
                result.pop(key, None)
                continue
            field = child_field(type_str, key, self.types)
            sub = _join(path, key)
            old = result.get(key, _MISSING)
            if isinstance(old, dict) and isinstance(value, dict) and "replace" not in _strategies(field):
                merged: Any = self.merge_map(old, value, field.type, sub)
            elif isinstance(old, list) and isinstance(value, list):
                merged = self.merge_list(old, value, field, sub)
            else:
                merged = self.fresh(value, field, sub)
            if merged is _DROP:
                result.pop(key, None)
            else:
                result[key] = merged
        return result

    def retain_keys(self, result: dict[str, Any], patch: dict[str, Any], path: str) -> dict[str, Any]:
        keep = patch.pop(RETAIN_KEYS)
        if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
            raise self.bad(path, "$retainKeys must be a list of field names")
        for key, value in patch.items():
            if value is None or key.startswith((DELETE_PRIMITIVES, SET_ORDER)):
                continue
            if key not in keep:
                raise self.bad(path, f"field {key!r} is set but not listed in $retainKeys {keep}")
        return {k: v for k, v in result.items() if k in keep}

    def delete_primitives(self, result: dict[str, Any], key: str, value: Any, path: str) -> None:
        name = key[len(DELETE_PRIMITIVES):]
        if not name or not isinstance(value, list):
            raise self.bad(path, f"{key} must name a field and hold a list of values to delete")
        current = result.get(name)
        if isinstance(current, list):
            result[name] = [x for x in current if not any(_same(x, d) for d in value)]

    def set_element_order(self, result: dict[str, Any], patch: dict[str, Any], key: str, type_str: str,
                          path: str) -> None:
        order = patch.pop(key)
        name = key[len(SET_ORDER):]
        if not name or not isinstance(order, list):
            raise self.bad(path, f"{key} must name a field and hold a list")
        field = child_field(type_str, name, self.types)
        sub = _join(path, name)
        merge_key = field.merge_key or ""
        live = result.get(name, _MISSING)
        given = patch.pop(name, _MISSING)
        for what, value in (("live value", live), ("patch value", given)):
            if value is not _MISSING and not isinstance(value, list):
                raise self.bad(sub, f"{key} applies to a list, but the {what} is not a list")
        self.check_order(given if isinstance(given, list) else [], order, merge_key, sub)
        if isinstance(live, list) and isinstance(given, list):
            merged = self.merge_list(live, given, field, sub)
        elif isinstance(given, list):
            merged = self.fresh(given, field, sub)
        elif isinstance(live, list):
            merged = live
        else:
            return
        if merge_key:
            for item in order:
                self.key_of(item, merge_key, sub)
        in_order = [x for x in merged if self.index(order, x, merge_key) >= 0]
        server_only = [x for x in merged if self.index(order, x, merge_key) < 0]
        result[name] = self.normalize(in_order, server_only, order, live if isinstance(live, list) else [],
                                      merge_key)

    def check_order(self, given: list[Any], order: list[Any], merge_key: str, path: str) -> None:
        """Every item of the patch list must appear in $setElementOrder, in the same relative order."""
        if not given or not order:
            return
        items = [x for x in given if not (isinstance(x, dict) and DIRECTIVE in x)]
        pi = oi = 0
        while pi < len(items) and oi < len(order):
            if self.key_of(items[pi], merge_key, path) == self.key_of(order[oi], merge_key, path):
                pi += 1
            oi += 1
        if pi < len(items):
            raise self.bad(path, f"the order of the patch list {given} does not match the "
                                 f"$setElementOrder list {order}")

    # lists ----------------------------------------------------------------------------------
    def key_of(self, item: Any, merge_key: str, path: str) -> str:
        if not merge_key:
            return canonical(item)
        if not isinstance(item, dict) or merge_key not in item:
            raise self.bad(path, f"list item {item!r} does not contain the merge key {merge_key!r}")
        return canonical(item[merge_key])

    def index(self, items: list[Any], item: Any, merge_key: str) -> int:
        want = canonical(item.get(merge_key) if merge_key and isinstance(item, dict) else item)
        for i, x in enumerate(items):
            if canonical(x.get(merge_key) if merge_key and isinstance(x, dict) else x) == want:
                return i
        return -1

    def merge_list(self, original: list[Any], patch: list[Any], field: Field, path: str) -> list[Any]:
        if "merge" not in _strategies(field):
            return self.fresh_list(patch, field, path)
        if not original and not patch:
            return original
        items = original + patch
        if any(isinstance(x, list) for x in items):
            raise APIError(422, "Invalid", f"{path}: lists of lists are not supported by strategic merge patch")
        elem = shape(field.type, self.types).elem or "object"
        if all(isinstance(x, dict) for x in items):
            merge_key = field.merge_key
            if not merge_key:
                return self.fresh_list(patch, Field(field.type), path)
            return self.merge_maps(original, patch, merge_key, elem, path)
        if any(isinstance(x, dict) for x in items):
            raise self.bad(path, "list element types are not identical")
        merged: list[Any] = []
        for x in items:
            if not any(_same(x, y) for y in merged):
                merged.append(x)
        in_patch = [x for x in merged if self.index(patch, x, "") >= 0]
        server_only = [x for x in merged if self.index(patch, x, "") < 0]
        return self.normalize(in_patch, server_only, patch, original, "")

    def merge_maps(self, original: list[Any], patch: list[Any], merge_key: str, elem: str, path: str) -> list[Any]:
        plain: list[dict[str, Any]] = []
        replace = False
        for item in patch:
            if DIRECTIVE not in item:
                plain.append(item)
                continue
            directive = item[DIRECTIVE]
            if directive == "delete":
                key = self.key_of(item, merge_key, path)
                original = [x for x in original if not (isinstance(x, dict) and merge_key in x
                                                        and canonical(x[merge_key]) == key)]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                raise self.bad(path, "merging lists cannot yet be specified in the patch")
            else:
                raise self.bad(path, f"unknown patch type {directive!r} in a list item")
        if replace:
            return [self.merge_map(None, x, elem, path) for x in plain]
        merged = list(original)
        for item in plain:
            self.key_of(item, merge_key, path)
            at = self.index(merged, item, merge_key)
            sub = f"{path}[{merge_key}={item[merge_key]}]"
            if at >= 0:
                merged[at] = self.merge_map(merged[at], item, elem, sub)
            else:
                merged.append(self.merge_map(None, item, elem, sub))
        in_patch = [x for x in merged if self.index(plain, x, merge_key) >= 0]
        server_only = [x for x in merged if self.index(plain, x, merge_key) < 0]
        return self.normalize(in_patch, server_only, plain, original, merge_key)

    def normalize(self, in_patch: list[Any], server_only: list[Any], patch_order: list[Any],
                  server_order: list[Any], merge_key: str) -> list[Any]:
        """Patch items in the patch's order, server-only items in the live order, interleaved where
        the live list puts them (apimachinery's normalizeElementOrder)."""
        def by(order: list[Any]) -> Any:
            def rank(x: Any) -> int:
                i = self.index(order, x, merge_key)
                return i if i >= 0 else len(order)
            return rank

        right = sorted(in_patch, key=by(patch_order))
        left = sorted(server_only, key=by(server_order))
        out: list[Any] = []
        i = j = 0
        while i < len(left) or j < len(right):
            if i >= len(left):
                out.append(right[j])
                j += 1
            elif j >= len(right):
                out.append(left[i])
                i += 1
            else:
                li, ri = self.index(server_order, left[i], merge_key), self.index(server_order, right[j], merge_key)
                if li >= 0 and ri >= 0 and li < ri:
                    out.append(left[i])
                    i += 1
                else:
                    out.append(right[j])
                    j += 1
        return out

    # values without a live counterpart ------------------------------------------------------
    def fresh_list(self, value: list[Any], field: Field, path: str) -> list[Any]:
        out = self.fresh(value, field, path)
        assert isinstance(out, list)
        return out

    def fresh(self, value: Any, field: Field, path: str) -> Any:
        if isinstance(value, dict):
            if value.get(DIRECTIVE) == "delete":
                return _DROP
            return self.merge_map(None, value, field.type, path)
        if isinstance(value, list):
            if "merge" in _strategies(field):
                return self.merge_list([], value, field, path)
            elem = Field(shape(field.type, self.types).elem or "object")
            out = []
            for i, x in enumerate(value):
                v = self.fresh(x, elem, f"{path}[{i}]")
                if v is not _DROP:
                    out.append(v)
            return out
        return value
