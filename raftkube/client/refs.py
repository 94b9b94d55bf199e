"""Naming resources: (apiVersion, kind) or a `Resource` -> REST paths, and CLI names -> resources."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..api.resources import RESOURCES, Resource, by_kind

Obj = dict[str, Any]
ResourceLike = Resource | tuple[str, str]  # a Resource, or (apiVersion, kind)


def table_lookup(ref: ResourceLike) -> Resource | None:
    """The built-in resource for `ref` (None if the kind is not in the table)."""
    if isinstance(ref, Resource):
        return ref
    api_version, kind = ref
    return by_kind(api_version, kind)


def ref_of(obj: Obj) -> tuple[str, str]:
    """(apiVersion, kind) of an object; ValueError if either is missing."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not api_version or not kind:
        name = (obj.get("metadata") or {}).get("name", "?")
        raise ValueError(f"object {name!r} has no apiVersion/kind")
    return str(api_version), str(kind)


def collection_path(res: Resource, namespace: str | None) -> str:
    """/api/v1/pods, /api/v1/namespaces/ns/pods, /apis/apps/v1/namespaces/ns/deployments."""
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    if res.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    return f"{base}/{res.plural}"


def object_path(res: Resource, namespace: str | None, name: str, subresource: str | None = None) -> str:
    if not name:
        raise ValueError(f"a {res.kind} needs a name")
    if res.namespaced and not namespace:
        raise ValueError(f"{res.kind} {name!r} is namespaced: a namespace is needed")
    path = f"{collection_path(res, namespace)}/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


def qualified_kind(res: Resource) -> str:
    """How kubectl names a resource type in output: `pod`, `deployment.apps`."""
    kind = res.kind.lower()
    return f"{kind}.{res.group}" if res.group else kind


def cli_lookup(name: str) -> Resource | None:
    """A resource by kind, plural, singular or short name (`po`, `deploy`, `Deployment`, `deployments.apps`)."""
    text = name.strip().lower()
    group: str | None = None
    if "." in text:
        text, _, group = text.partition(".")
    for res in RESOURCES:
        if group is not None and res.group != group:
            continue
        if text in (res.kind.lower(), res.plural, res.singular) or text in res.short_names:
            return res
    return None


def resource_from_discovery(group_version: str, kind: str, resource_list: Obj) -> Resource | None:
    """A Resource built from an APIResourceList entry for `kind` (for kinds outside the table)."""
    group, _, version = group_version.rpartition("/")
    for entry in resource_list.get("resources") or []:
        if entry.get("kind") == kind and "/" not in str(entry.get("name", "")):
            subs = tuple(str(e["name"]).split("/", 1)[1] for e in resource_list.get("resources") or []
                         if str(e.get("name", "")).startswith(f"{entry['name']}/"))
            return Resource(group, version, kind, str(entry["name"]), str(entry.get("singularName") or kind.lower()),
                            bool(entry.get("namespaced")), tuple(entry.get("shortNames") or ()),
                            tuple(entry.get("categories") or ()), subs)
    return None
