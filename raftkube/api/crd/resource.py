"""A served version of a CustomResourceDefinition as a `Resource`, and how to build it from the CRD.

`CustomResource` is a `Resource` (so the router, storage, watches, authorization and the
client treat it like any kind) carrying what the CRD says about that version: its structural
schema, the storage version every version is kept in (conversion None: only apiVersion
changes), additionalPrinterColumns and the scale subresource's paths.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..resources import Resource
from .schema_validation import CompiledSchema

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


@dataclass(frozen=True, eq=False)
class CustomResource(Resource):
    crd_name: str = ""
    storage_version: str = ""
    schema: Obj = field(default_factory=dict)  # openAPIV3Schema of this version ({} = none)
    compiled: CompiledSchema | None = None  # the same, in the field model (converted on first use)
    printer_columns: tuple[Obj, ...] = ()
    spec_replicas_path: str = ""
    status_replicas_path: str = ""
    label_selector_path: str = ""
    terminating: bool = False

    @property
    def storage_api_version(self) -> str:
        return f"{self.group}/{self.storage_version}"

    def to_storage(self, obj: Obj) -> Obj:
        """The object as stored: in the storage version (conversion None rewrites apiVersion only)."""
        if obj.get("apiVersion") == self.storage_api_version:
            return obj
        return {**obj, "apiVersion": self.storage_api_version}

    def from_storage(self, obj: Obj) -> Obj:
        """The stored object in this version, with this version's defaults applied (as on a read)."""
        from .schema_validation import apply_defaults

        obj["apiVersion"] = self.api_version
        if self.compiled is not None:
            apply_defaults(obj, self.compiled)
        return obj


def _is_established(crd: Obj) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def served_resources(crd: Obj) -> list[CustomResource]:
    """One `CustomResource` per served version of an Established CRD ([] if not established)."""
    if not _is_established(crd):
        return []
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
    versions = spec.get("versions") or []
    storage = next((v.get("name", "") for v in versions if v.get("storage")), "")
    terminating = bool((crd.get("metadata") or {}).get("deletionTimestamp"))
    out: list[CustomResource] = []
    for version in versions:
        if not version.get("served"):
            continue
        subs = version.get("subresources") or {}
        scale = subs.get("scale") or {}
        kind = names.get("kind", "")
        raw = copy.deepcopy(((version.get("schema") or {}).get("openAPIV3Schema")) or {})
        group = spec.get("group", "")
        prefix = ".".join(reversed(group.split("."))) + f".{version.get('name', '')}.{kind}"
        out.append(CustomResource(
            group=spec.get("group", ""), version=version.get("name", ""), kind=kind, plural=names.get("plural", ""),
            singular=names.get("singular") or kind.lower(), namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=tuple(s for s in ("status", "scale") if s in subs),
            crd_name=(crd.get("metadata") or {}).get("name", ""), storage_version=storage,
            schema=raw, compiled=CompiledSchema(raw, prefix) if raw else None,
            printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            spec_replicas_path=scale.get("specReplicasPath", ""),
            status_replicas_path=scale.get("statusReplicasPath", ""),
            label_selector_path=scale.get("labelSelectorPath", ""), terminating=terminating))
    return out
