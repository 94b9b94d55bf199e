"""Discovery documents: /version, /api, /apis, /api/v1, /apis/<group>/<version>, aggregated v2.

Built from the resource table (`resources.py`); kubectl uses them to map kinds and short names
to REST paths (`kubectl api-resources`, `get deploy`, `scale`, `get all`). Aggregated discovery
(`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`) carries the
same data in one document per /api and /apis; serve it with `AGGREGATED_CONTENT_TYPE`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .resources import SERVED, Resource, group_versions

if TYPE_CHECKING:
    from .resource_registry import ResourceRegistry

MAJOR, MINOR, PATCH = "1", "32", "0"
GIT_VERSION = f"v{MAJOR}.{MINOR}.{PATCH}+raftkube"
AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

Obj = dict[str, Any]


@dataclass(frozen=True)
class Subresource:
    """What discovery says about `<plural>/<name>`: the kind it speaks and its verbs."""

    name: str
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


_GET_UPDATE = ("get", "patch", "update")
_CONNECT = ("create", "get")


def subresource(resource: Resource, name: str) -> Subresource:
    """The kind and verbs of one subresource of `resource` (status, scale, log, binding, exec, ...)."""
    core = ("", "v1")
    fixed: dict[str, tuple[tuple[str, str], str, tuple[str, ...]]] = {
        "scale": (("autoscaling", "v1"), "Scale", _GET_UPDATE),
        "log": (core, "Pod", ("get",)),
        "binding": (core, "Binding", ("create",)),
        "token": (("authentication.k8s.io", "v1"), "TokenRequest", ("create",)),
        "exec": (core, "PodExecOptions", _CONNECT),
        "attach": (core, "PodAttachOptions", _CONNECT),
        "portforward": (core, "PodPortForwardOptions", _CONNECT),
        "eviction": (("policy", "v1"), "Eviction", ("create",)),
    }
    if name in fixed:
        (group, version), kind, verbs = fixed[name]
        return Subresource(name, group, version, kind, verbs)
    return Subresource(name, resource.group, resource.version, resource.kind, _GET_UPDATE)


def version_info() -> Obj:
    """/version: kubectl's dispatcher picks the client matching `minor`."""
    return {
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str = "") -> Obj:
    """/api: the legacy core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_version(group: str, version: str) -> Obj:
    return {"groupVersion": f"{group}/{version}", "version": version}


def _group_versions(registry: ResourceRegistry | None) -> dict[str, list[str]]:
    return registry.group_versions() if registry is not None else group_versions()


def api_group_list(registry: ResourceRegistry | None = None) -> Obj:
    """/apis: every named group served (with the registry's CRDs), with its preferred version."""
    groups = []
    for group, versions in _group_versions(registry).items():
        if not group:
            continue
        gvs = [_group_version(group, v) for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _storage_version_hash(resource: Resource) -> str:
    digest = hashlib.sha256(f"{resource.group}/{resource.version}/{resource.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _resources_of(group: str, version: str, registry: ResourceRegistry | None = None) -> list[Resource]:
    served = registry.served() if registry is not None else SERVED
    return [r for r in served if r.group == group and r.version == version]


def resource_list(group: str, version: str, registry: ResourceRegistry | None = None) -> Obj | None:
    """/api/v1 or /apis/<group>/<version>: an APIResourceList, or None if not served."""
    served = _resources_of(group, version, registry)
    if not served:
        return None
    items: list[Obj] = []
    for r in served:
        entry: Obj = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                      "verbs": r.verbs}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        entry["storageVersionHash"] = _storage_version_hash(r)
        items.append(entry)
        for name in r.subresources:
            sub = subresource(r, name)
            sub_entry: Obj = {"name": f"{r.plural}/{name}", "singularName": "", "namespaced": r.namespaced}
            if (sub.group, sub.version) != (r.group, r.version):
                sub_entry.update({"group": sub.group, "version": sub.version})
            sub_entry.update({"kind": sub.kind, "verbs": list(sub.verbs)})
            items.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": items}


def _aggregated_resource(r: Resource) -> Obj:
    entry: Obj = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": r.verbs,
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = [subresource(r, name) for name in r.subresources]
    if subs:
        entry["subresources"] = [
            {"subresource": s.name, "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
             "verbs": list(s.verbs)}
            for s in sorted(subs, key=lambda s: s.name)
        ]
    return entry


def aggregated_discovery(legacy: bool, registry: ResourceRegistry | None = None) -> Obj:
    """APIGroupDiscoveryList (apidiscovery.k8s.io/v2) for /api (legacy=True) or /apis."""
    items: list[Obj] = []
    for group, versions in _group_versions(registry).items():
        if (group == "") != legacy:
            continue
        entries = []
        for version in versions:
            resources = sorted(_resources_of(group, version, registry), key=lambda r: r.plural)
            entries.append({"version": version, "resources": [_aggregated_resource(r) for r in resources],
                             "freshness": "Current"})
        metadata: Obj = {"name": group} if group else {}
        metadata["creationTimestamp"] = None
        items.append({"metadata": metadata, "versions": entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def wants_aggregated(accept: str) -> bool:
    """Whether an Accept header asks for aggregated discovery v2 (kubectl lists it first)."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False
