"""OpenAPI v3 documents of the custom groups: `/openapi/v3/apis/<group>/<version>` for CRDs.

As kube-apiserver publishes them: each served version's structural schema becomes the kind's
component (named `<reversed group>.<version>.<Kind>`, e.g. `com.example.v1.Widget`), with
apiVersion, kind and metadata (ObjectMeta) added and its x-kubernetes-group-version-kind, plus
a `<Kind>List`; the paths are the built-ins' (so PATCH advertises fieldValidation and kubectl
leaves the checks to the server). `kubectl explain <kind>.spec` reads these. Documents are
cached per registry generation.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import TYPE_CHECKING, Any

from .. import openapi as oa
from ..schema import TYPES, element_type, referenced_types
from .resource import CustomResource

if TYPE_CHECKING:
    from ..resource_registry import ResourceRegistry

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
SCALE = "io.k8s.api.autoscaling.v1.Scale"
_CACHE: dict[tuple[int, int, str], tuple[Obj, bytes, str] | None] = {}


def component_name(r: CustomResource) -> str:
    return ".".join(reversed(r.group.split("."))) + f".{r.version}.{r.kind}"


def kind_schema(r: CustomResource) -> Obj:
    schema = copy.deepcopy(r.schema) if r.schema else {"type": "object",
                                                       "x-kubernetes-preserve-unknown-fields": True}
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                                            "representation of an object."}
    props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource this "
                                                      "object represents."}
    props["metadata"] = {"allOf": [oa._ref(META + "ObjectMeta")], "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [{"group": r.group, "kind": r.kind, "version": r.version}]
    return schema


def list_schema(r: CustomResource, root: str) -> Obj:
    return {
        "description": f"{r.kind}List is a list of {r.kind}", "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of this list."},
            "items": {"type": "array", "items": oa._ref(root),
                      "description": f"List of {r.plural.lower()}."},
            "kind": {"type": "string", "description": "Kind of this list."},
            "metadata": {"allOf": [oa._ref(META + "ListMeta")], "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [{"group": r.group, "kind": r.kind + "List", "version": r.version}],
    }


def build_document(resources: list[CustomResource]) -> Obj:
    schemas: Obj = {}
    paths: Obj = {}
    roots = [oa.DELETE_OPTIONS, oa.STATUS, META + "ObjectMeta", META + "ListMeta"]
    for r in resources:
        root = component_name(r)
        schemas[root] = kind_schema(r)
        schemas[root + "List"] = list_schema(r, root)
        paths.update(oa._resource_paths(r, root))
        if "scale" in r.subresources:
            roots.append(SCALE)
    names: list[str] = []
    for root in roots:
        names += [n for n in referenced_types(root) if n not in names]
    for name in names:
        schemas[name] = oa.type_schema(name)
    used = {element_type(f.type) for name in names for f in TYPES[name].values()}
    for ref_type, component in oa._PRIMITIVE_REFS.items():
        if ref_type in used:
            schemas[component] = oa.NAMED_PRIMITIVES[component]
    schemas[oa.PATCH] = oa.NAMED_PRIMITIVES[oa.PATCH]
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def custom_document(path: str, registry: ResourceRegistry, base: Obj | None = None
                    ) -> tuple[Obj, bytes, str] | None:
    """(document, JSON, hash) for `apis/<group>/<version>` with custom resources (None: it has none); `base`
    is the built-in document of the same group/version, if there is one, that the custom paths join."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != "apis":
        return None
    group, version = parts[1], parts[2]
    resources = [r for r in registry.custom() if r.group == group and r.version == version]
    if not resources:
        return None
    key = (id(registry), registry.generation, path)
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        document = build_document(resources)
        if base is not None:
            document = {**base, "paths": dict(sorted({**base["paths"], **document["paths"]}.items())),
                        "components": {**base["components"], "schemas": dict(sorted(
                            {**base["components"]["schemas"], **document["components"]["schemas"]}.items()))}}
        body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        _CACHE[key] = (document, body, hashlib.sha512(body).hexdigest().upper())
    return _CACHE[key]
