"""Server-side apply and field ownership (`metadata.managedFields`).

`server_side_apply` merges an applied configuration into the live object, makes the manager
the owner of exactly the fields it applied, removes fields it applied last time and no longer
applies (unless another manager owns them), and refuses to change fields other managers own
(409 Conflict, one `FieldManagerConflict` cause per field) unless `force`, which moves the
ownership. `record_update` keeps ownership for every other write (operation Update): the
writer takes the fields it changed, from whoever owned them. Managers are identified, as in
Kubernetes, by (manager, operation, subresource) and, for Update, the apiVersion.

Like Kubernetes: apiVersion, kind and the server-owned metadata fields (name, namespace, uid,
resourceVersion, generation, creationTimestamp, managedFields) are never recorded as owned;
`status` is not tracked for writes to the main resource, and only `status` is tracked for
writes to the `status` subresource. For the manager "kubectl" (the upgrade path from
client-side `kubectl apply`), conflicts on fields that still hold their last-applied value
are not conflicts, and an existing last-applied-configuration annotation is kept in sync.
Not done: the cap of 10 Update entries ("ancient-changes"), conversion between versions.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import APIError, Cause, bad_request, invalid
from ..schema.model import Field
from .apply_merge import MISSING, ConfigError, apply_merge, has_path, remove_path, strip_nulls, value_at
from .fieldset import (
    Path,
    compare,
    ensure_named_fields,
    from_fields_v1,
    path_string,
    to_field_set,
    to_fields_v1,
    walk_types,
)
from .typeinfo import Types, json_equal, list_semantics, resolve_types

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_STRIPPED: frozenset[Path] = frozenset({("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + name) for name in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                             "clusterName", "generation", "managedFields", "resourceVersion")})
_PROTECTED: frozenset[Path] = _STRIPPED | {("f:metadata", "f:generateName")}


@dataclass
class Entry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str | None
    subresource: str = ""
    fields: set[Path] = field(default_factory=set)

    def same_manager(self, manager: str, operation: str, subresource: str, api_version: str) -> bool:
        return (self.manager, self.operation, self.subresource) == (manager, operation, subresource) and (
            operation == "Apply" or self.api_version == api_version)

    def describe(self) -> str:
        """How Kubernetes names a manager in conflict messages."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def decode_managed_fields(value: Any) -> list[Entry]:
    """Entries of `metadata.managedFields`; malformed entries are dropped, duplicates merged."""
    entries: list[Entry] = []
    for raw in value if isinstance(value, list) else []:
        if not isinstance(raw, dict) or not isinstance(raw.get("manager", ""), str):
            continue
        operation = "Apply" if raw.get("operation") == "Apply" else "Update"
        entry = Entry(raw.get("manager", ""), operation, str(raw.get("apiVersion", "")), raw.get("time"),
                      str(raw.get("subresource", "") or ""), from_fields_v1(raw.get("fieldsV1")))
        twin = next((e for e in entries if e.same_manager(entry.manager, operation, entry.subresource,
                                                          entry.api_version)), None)
        if twin is None:
            entries.append(entry)
        else:
            twin.fields |= entry.fields
    return entries


def encode_managed_fields(entries: list[Entry]) -> list[dict[str, Any]]:
    """Kubernetes' order: Apply before Update, then oldest first, then by manager."""
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.to_json() for e in kept]


def _tracked(subresource: str) -> Any:
    if subresource == "status":
        return lambda p: bool(p) and p[0] == "f:status"
    return lambda p: not p or p[0] != "f:status"


def _set_managed(obj: dict[str, Any], entries: list[Entry]) -> None:
    meta = obj.setdefault("metadata", {})
    encoded = encode_managed_fields(entries)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def _without_managed(obj: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
    out = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    meta = out.get("metadata")
    managed = meta.pop("managedFields", None) if isinstance(meta, dict) else None
    return out, managed


def _is_key_field(path: Path, root_type: str, types: Types) -> bool:
    """True for the key fields of a list-map item (they stay while the item stays)."""
    if len(path) < 2 or not path[-1].startswith("f:") or not path[-2].startswith("k:"):
        return False
    parent_list: Field = walk_types(path[:-1], root_type, types)[-2][1]
    _semantics, keys = list_semantics(parent_list, types)
    return path[-1][2:] in keys


def manager_required() -> APIError:
    return invalid("PatchOptions", "", [Cause("fieldManager", "Required value: is required for apply patch",
                                              "FieldValueRequired")], group="meta.k8s.io")


def _conflict_error(conflicts: list[tuple[Entry, Path]]) -> APIError:
    causes = [Cause(path_string(p), f"conflict with {e.describe()}", "FieldManagerConflict") for e, p in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path_string(path)}"
    else:
        lines: list[str] = []
        for name in sorted({e.describe() for e, _ in conflicts}):
            lines.append(f"conflicts with {name}:")
            lines.extend(f"- {path_string(p)}" for e, p in conflicts if e.describe() == name)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return APIError(409, "Conflict", message, causes=causes)


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
                      types: Types | None = None, *, root_type: str, now: str, subresource: str = ""
                      ) -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None: create). Inputs are not modified."""
    types = resolve_types(types)
    if not manager:
        raise manager_required()
    if not isinstance(applied, dict):
        raise bad_request("the applied configuration must be an object")
    if not applied.get("apiVersion") or not applied.get("kind"):
        raise bad_request("the applied configuration must set apiVersion and kind")
    meta = applied.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise bad_request("metadata of the applied configuration must be an object")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    config = strip_nulls(applied)
    api_version = str(config["apiVersion"])
    tracked = _tracked(subresource)
    base, live_managed = _without_managed(live)
    entries = decode_managed_fields(live_managed)
    try:
        merged = apply_merge(base, config, root_type, types)
    except ConfigError as exc:
        name = str((meta or {}).get("name", ""))
        raise invalid(str(config["kind"]), name, [Cause(exc.path.lstrip("."), exc.message)]) from None
    applied_set = {p for p in to_field_set(config, root_type, types) if tracked(p)}
    mine = next((e for e in entries if e.same_manager(manager, "Apply", subresource, api_version)), None)
    others = [e for e in entries if e is not mine]

    # prune what this manager applied last time, no longer applies and nobody else owns
    if mine is not None and mine.fields:
        owned = set(applied_set)
        for e in others:
            owned |= e.fields
        owned = ensure_named_fields(owned, root_type, types)
        last = ensure_named_fields(mine.fields, root_type, types)
        for path in sorted(last - owned, key=len):
            if path in _PROTECTED or not tracked(path) or _is_key_field(path, root_type, types):
                continue
            if has_path(merged, path, root_type, types):
                remove_path(merged, path, root_type, types)

    changed, removed = compare(base, merged, root_type, types)
    changed = {p for p in changed if tracked(p)}
    removed = {p for p in removed if tracked(p)}
    conflicts = [(e, p) for e in others for p in sorted(e.fields & changed, key=path_string)]
    if conflicts and not force and manager == "kubectl":
        conflicts = _not_from_client_side_apply(conflicts, base, root_type, types)
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for e in others:
        e.fields -= changed | removed
    kept = applied_set - _STRIPPED
    noop = json_equal(merged, base)
    if mine is None:
        entries.append(Entry(manager, "Apply", api_version, now, subresource, kept))
    else:
        if not noop or mine.fields != kept:
            mine.time = now
        mine.fields, mine.api_version = kept, api_version
    result = merged
    annotations = (base.get("metadata") or {}).get("annotations") or {}
    if manager == "kubectl" and LAST_APPLIED in annotations:
        result.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = _last_applied(applied)
    _set_managed(result, entries)
    return result


def _not_from_client_side_apply(conflicts: list[tuple[Entry, Path]], live: dict[str, Any], root_type: str,
                                 types: Types) -> list[tuple[Entry, Path]]:
    """Kubernetes lets `kubectl apply --server-side` take over, without force, the fields that
    still hold the value of the client-side last-applied-configuration (the upgrade path from
    `kubectl apply`); only the other conflicts remain."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last = json.loads(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        last = None
    if not isinstance(last, dict):
        return conflicts
    remaining = []
    for entry, path in conflicts:
        was = value_at(last, path, root_type, types)
        if was is MISSING or not json_equal(was, value_at(live, path, root_type, types)):
            remaining.append((entry, path))
    return remaining


def _last_applied(applied: dict[str, Any]) -> str:
    copy_ = copy.deepcopy(applied)
    annotations = (copy_.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            copy_["metadata"].pop("annotations")
    return json.dumps(copy_, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, types: Types | None = None, *,
                  root_type: str, now: str, subresource: str = "") -> dict[str, Any]:
    """`new` (not modified) with managedFields updated for a non-apply write by `manager`.

    As in Kubernetes, managedFields sent in `new` replace the live ones when they differ and are
    not empty (`[{}]` resets them); otherwise the live ones carry over."""
    types = resolve_types(types)
    if not isinstance(new.get("metadata"), dict):
        return copy.deepcopy(new)
    result, new_managed = _without_managed(new)
    base, old_managed = _without_managed(old)
    if isinstance(new_managed, list) and len(new_managed) == 1 and new_managed[0] == {}:
        entries: list[Entry] = []
    else:
        entries = decode_managed_fields(new_managed) or decode_managed_fields(old_managed)
    api_version = str(result.get("apiVersion") or base.get("apiVersion") or "")
    tracked = _tracked(subresource)
    changed, removed = compare(base, result, root_type, types)
    changed = {p for p in changed if tracked(p)}
    removed = {p for p in removed if tracked(p)}
    mine = next((e for e in entries if e.same_manager(manager, "Update", subresource, api_version)), None)
    for e in entries:
        if e is not mine:
            e.fields -= changed | removed
    taken = changed - _STRIPPED
    if mine is not None:
        mine.fields = (mine.fields - removed) | taken
        if taken:
            mine.time = now
    elif taken:
        entries.append(Entry(manager, "Update", api_version, now, subresource, taken))
    _set_managed(result, entries)
    return result


__all__ = ["Entry", "decode_managed_fields", "encode_managed_fields", "record_update", "server_side_apply"]
