"""Turns a REST path into (resource, namespace, name, subresource) as Kubernetes lays them out.

/api/v1/<plural>[/<name>[/<sub>]]                                 cluster-scoped, or all namespaces
/api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]                 namespaced
/apis/<group>/<version>/... the same below the group/version
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import APIError, not_found
from .resources import Resource, find

Finder = Callable[[str, str, str], Resource | None]  # (group, version, plural) -> resource


@dataclass(frozen=True)
class Target:
    resource: Resource
    namespace: str | None  # None: cluster-scoped, or every namespace for a namespaced list/watch
    name: str | None
    subresource: str = ""


def parse_path(path: str, find: Finder = find) -> Target | None:
    """None when the path is a discovery path (group/version root) rather than a resource; `find` looks
    resources up (the built-in table by default; an API server passes its registry's, with the CRDs)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"]:
        group, rest = "", parts[1:]
    elif parts[:1] == ["apis"]:
        if len(parts) < 2:
            return None
        group, rest = parts[1], parts[2:]
    else:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({path})")
    if len(rest) < 2:
        return None
    version, rest = rest[0], rest[1:]

    def resource_for(plural: str) -> Resource:
        resource = find(group, version, plural)
        if resource is None:
            full = f"{group}/{version}" if group else version
            raise APIError(404, "NotFound", f"the server could not find the requested resource "
                           f"({plural} in {full})")
        return resource

    if rest[0] == "namespaces" and len(rest) >= 3 and (len(rest) > 3 or find(group, version, rest[2])):
        namespace, plural, tail = rest[1], rest[2], rest[3:]
        resource = resource_for(plural)
        if not resource.namespaced:
            raise not_found(plural, tail[0] if tail else plural)
    else:
        namespace, plural, tail = None, rest[0], rest[1:]
        resource = resource_for(plural)
    if len(tail) > 2:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({path})")
    name = tail[0] if tail else None
    sub = tail[1] if len(tail) > 1 else ""
    if sub and sub not in resource.subresources and not (resource.kind == "Namespace" and sub == "finalize"):
        raise APIError(404, "NotFound", f"{resource.plural} has no subresource {sub!r}")
    if resource.namespaced and name is not None and namespace is None:
        raise APIError(404, "NotFound", f"{resource.plural} are namespaced: use /namespaces/<ns>/{resource.plural}")
    return Target(resource, namespace, name, sub)
