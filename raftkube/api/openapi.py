"""OpenAPI v3 documents generated from the schema: /openapi/v3 and /openapi/v3/<group-version>.

kubectl reads them for `explain` (the kind schema found through the x-kubernetes-group-version-kind
of a path's operation), for strategic merge patch in client-side `apply` (the patch strategies and
merge keys, and whether the PATCH operation accepts application/strategic-merge-patch+json), and to
decide whether the server validates fields itself (the `fieldValidation` parameter of PATCH: if
present, kubectl sends fieldValidation=Strict and leaves the checking to the server). The documents
are static, so they are built once and cached with their hash.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from .discovery import GIT_VERSION, subresource
from .openapi_params import (
    DELETE_PARAMS,
    DRY_RUN,
    FIELD_MANAGER,
    FIELD_VALIDATION,
    FORCE,
    LIST_PARAMS,
    LOG_PARAMS,
    PRETTY,
    param,
)
from .resources import SERVED, Resource, group_versions

if TYPE_CHECKING:
    from .resource_registry import ResourceRegistry
from .schema import ATOMIC_STRUCTS, KIND_TYPES, TYPE_DESCRIPTIONS, TYPES, element_type, kind_type, referenced_types
from .schema.model import Field

Obj = dict[str, Any]

REF = "#/components/schemas/"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")
RESPONSE_TYPES = ("application/json", "application/yaml")

NAMED_PRIMITIVES: dict[str, Obj] = {
    QUANTITY: {"description": "A fixed-point number with a suffix: 100m (0.1), 1Gi (2^30), 1G (10^9), 1e3. "
                              "Serialised as a string; numbers are accepted on input.",
               "oneOf": [{"type": "string"}, {"type": "number"}]},
    INT_OR_STRING: {"description": "An integer or a string (a name or a percentage such as 25%).",
                    "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    TIME: {"description": "A timestamp in RFC 3339 form, e.g. 2024-05-01T12:00:00Z.", "type": "string",
           "format": "date-time"},
    PATCH: {"description": "A patch document: strategic merge, JSON merge, JSON patch or apply configuration, "
                           "as given by the Content-Type.", "type": "object"},
}
_PRIMITIVE_REFS = {"quantity": QUANTITY, "int-or-string": INT_OR_STRING, "time": TIME}


def _ref(name: str) -> Obj:
    return {"$ref": REF + name}


def _value_schema(type_: str, fmt: str = "") -> Obj:
    """The schema of a value of model type `type_` (no description)."""
    if type_.startswith("[]"):
        return {"type": "array", "items": _value_schema(type_[2:], fmt)}
    if type_.startswith("map[string]"):
        return {"type": "object", "additionalProperties": _value_schema(type_[len("map[string]"):], fmt)}
    if type_ in _PRIMITIVE_REFS:
        return _ref(_PRIMITIVE_REFS[type_])
    if type_ == "object":
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if type_ == "any":
        return {"x-kubernetes-preserve-unknown-fields": True}
    out: Obj = {"type": type_}
    if fmt or type_ in ("integer", "number"):
        out["format"] = fmt or ("int64" if type_ == "integer" else "double")
    return out if type_ in ("string", "boolean", "number", "integer") else _ref(type_)


def field_schema(field: Field) -> Obj:
    """The OpenAPI property schema of one field, with its Kubernetes extensions."""
    value = _value_schema(field.type, field.format)
    out: Obj = {"allOf": [value]} if "$ref" in value else value
    if field.description:
        out["description"] = field.description
    if field.enum:
        out["enum"] = list(field.enum)
    if field.patch_strategy:
        out["x-kubernetes-patch-strategy"] = field.patch_strategy
    if field.merge_key:
        out["x-kubernetes-patch-merge-key"] = field.merge_key
    if field.list_type:
        out["x-kubernetes-list-type"] = field.list_type
    if field.list_map_keys:
        out["x-kubernetes-list-map-keys"] = list(field.list_map_keys)
    if field.map_type:
        out["x-kubernetes-map-type"] = field.map_type
    return out


_GVKS: dict[str, list[Obj]] = {}
for (_api_version, _kind), _type in KIND_TYPES.items():
    _group, _, _version = _api_version.rpartition("/")
    _GVKS.setdefault(_type, []).append({"group": _group, "kind": _kind, "version": _version})


def type_schema(name: str) -> Obj:
    """The component schema of a named type."""
    fields = TYPES[name]
    out: Obj = {"type": "object"}
    if name in TYPE_DESCRIPTIONS:
        out["description"] = TYPE_DESCRIPTIONS[name]
    out["properties"] = {key: field_schema(field) for key, field in sorted(fields.items())}
    required = sorted(key for key, field in fields.items() if field.required)
    if required:
        out["required"] = required
    if name in _GVKS:
        out["x-kubernetes-group-version-kind"] = _GVKS[name]
    if name in ATOMIC_STRUCTS:
        out["x-kubernetes-map-type"] = "atomic"
    return out


# -- paths ---------------------------------------------------------------------------------------------------------

def _content(schema: Obj, types: tuple[str, ...] = RESPONSE_TYPES) -> Obj:
    return {content_type: {"schema": schema} for content_type in types}


def _responses(schema: Obj, *codes: str) -> Obj:
    names = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: Obj = {code: {"description": names[code], "content": _content(schema)} for code in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation_id(verb: str, r: Resource, suffix: str = "", all_namespaces: bool = False) -> str:
    group = r.group.split(".")[0].capitalize() if r.group else "Core"
    scope = "Namespaced" if r.namespaced and not all_namespaces else ""
    tail = "ForAllNamespaces" if all_namespaces else ""
    return f"{verb}{group}{r.version.capitalize()}{scope}{r.kind}{suffix}{tail}"


def _op(verb: str, action: str, r: Resource, gvk: Obj, description: str, params: list[Obj], responses: Obj,
        body: Obj | None = None, suffix: str = "", all_namespaces: bool = False) -> Obj:
    out: Obj = {"tags": [f"{(r.group.split('.')[0] or 'core')}_{r.version}"], "description": description,
                "operationId": _operation_id(verb, r, suffix, all_namespaces)}
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = body
    out["responses"] = responses
    out["x-kubernetes-action"] = action
    out["x-kubernetes-group-version-kind"] = gvk
    return out


def _write_body(schema: Obj) -> Obj:
    return {"content": {"*/*": {"schema": schema}}, "required": True}


PATCH_BODY: Obj = {"content": {t: {"schema": _ref(PATCH)} for t in PATCH_TYPES}, "required": True}


def _item_ops(r: Resource, type_name: str, gvk: Obj, what: str, suffix: str = "") -> Obj:
    """GET, PUT and PATCH of one object (or its status / scale)."""
    schema = _ref(type_name)
    return {
        "get": _op("read", "get", r, gvk, f"Read the {what}.", [], _responses(schema, "200"), suffix=suffix),
        "put": _op("replace", "put", r, gvk, f"Replace the {what}.", [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
                   _responses(schema, "200", "201"), _write_body(schema), suffix),
        "patch": _op("patch", "patch", r, gvk, f"Partially update the {what}.",
                     [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE], _responses(schema, "200", "201"),
                     PATCH_BODY, suffix),
    }


def _resource_paths(r: Resource, root: str | None = None) -> Obj:
    """The paths of a resource; `root` names its schema component (the built-in kind's type by default)."""
    prefix = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    ns = "/namespaces/{namespace}" if r.namespaced else ""
    collection = f"{prefix}{ns}/{r.plural}"
    item = collection + "/{name}"
    root = root or kind_type(r)
    gvk = {"group": r.group, "kind": r.kind, "version": r.version}
    scope_params = [param("namespace", "path", "Object name and auth scope, such as for teams and projects.",
                           required=True)] if r.namespaced else []
    name_param = param("name", "path", f"Name of the {r.kind}.", required=True)
    list_schema = _ref(root + "List")
    paths: Obj = {}
    paths[collection] = {
        "get": _op("list", "list", r, gvk, f"List or watch objects of kind {r.kind}.", LIST_PARAMS,
                   _responses(list_schema, "200")),
        "post": _op("create", "post", r, gvk, f"Create a {r.kind}.", [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
                    _responses(_ref(root), "200", "201", "202"), _write_body(_ref(root))),
        "delete": _op("deletecollection", "deletecollection", r, gvk, f"Delete a collection of {r.kind}.",
                      DELETE_PARAMS + LIST_PARAMS, _responses(_ref(STATUS), "200"),
                      {"content": {"*/*": {"schema": _ref(DELETE_OPTIONS)}}}, suffix="Collection"),
        "parameters": scope_params + [PRETTY],
    }
    item_ops = _item_ops(r, root, gvk, r.kind)
    item_ops["delete"] = _op("delete", "delete", r, gvk, f"Delete a {r.kind}.", DELETE_PARAMS,
                             _responses(_ref(STATUS), "200", "202"),
                             {"content": {"*/*": {"schema": _ref(DELETE_OPTIONS)}}})
    paths[item] = {**item_ops, "parameters": [name_param, *scope_params, PRETTY]}
    if r.namespaced:
        paths[f"{prefix}/{r.plural}"] = {
            "get": _op("list", "list", r, gvk, f"List or watch objects of kind {r.kind} in every namespace.",
                       LIST_PARAMS, _responses(list_schema, "200"), all_namespaces=True),
            "parameters": [PRETTY],
        }
    for name in r.subresources:
        sub = subresource(r, name)
        sub_gvk = {"group": sub.group, "kind": sub.kind, "version": sub.version}
        suffix = name.capitalize()
        ops: Obj
        if name == "log":
            ops = {"get": _op("read", "get", r, sub_gvk, f"Read the log of the {r.kind}.", LOG_PARAMS,
                              {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                               "401": {"description": "Unauthorized"}}, suffix=suffix)}
        elif name == "binding":
            binding = _ref("io.k8s.api.core.v1.Binding")
            ops = {"post": _op("create", "post", r, sub_gvk, "Bind the pod to a node.",
                               [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], _responses(binding, "200", "201", "202"),
                               _write_body(binding), suffix)}
        elif name == "token":
            request = _ref("io.k8s.api.authentication.v1.TokenRequest")
            ops = {"post": _op("create", "post", r, sub_gvk, "Create a token for the service account.",
                               [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], _responses(request, "200", "201", "202"),
                               _write_body(request), suffix)}
        elif sub.kind == "Scale" or sub.verbs == ("get", "patch", "update"):
            type_name = KIND_TYPES.get((f"{sub.group}/{sub.version}" if sub.group else sub.version, sub.kind), root)
            ops = _item_ops(r, type_name, sub_gvk, f"{name} of the {r.kind}", suffix)
        else:
            connect = {"200": {"description": "OK", "content": {"*/*": {"schema": {"type": "string"}}}}}
            ops = {verb: _op("connect" + verb.capitalize(), "connect", r, sub_gvk, f"Connect to {name} of the "
                             f"{r.kind}.", [], connect, suffix=suffix) for verb in ("get", "post")}
        paths[f"{item}/{name}"] = {**ops, "parameters": [name_param, *scope_params, PRETTY]}
    return paths


def _review_paths(r: Resource) -> Obj:
    """A review (create-only, nothing stored): POST on its collection, answered with the review and its status."""
    prefix = f"/apis/{r.group}/{r.version}"
    ns = "/namespaces/{namespace}" if r.namespaced else ""
    gvk = {"group": r.group, "kind": r.kind, "version": r.version}
    schema = _ref(kind_type(r))
    scope_params = [param("namespace", "path", "Object name and auth scope, such as for teams and projects.",
                           required=True)] if r.namespaced else []
    post = _op("create", "post", r, gvk, f"Create a {r.kind}: answered at once, nothing is stored.",
               [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], _responses(schema, "200", "201", "202"),
               _write_body(schema))
    return {f"{prefix}{ns}/{r.plural}": {"post": post, "parameters": scope_params + [PRETTY]}}


# -- documents -----------------------------------------------------------------------------------------------------

def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _build(group: str, version: str) -> Obj:
    served = [r for r in SERVED if r.group == group and r.version == version]
    roots = [DELETE_OPTIONS, STATUS]
    paths: Obj = {}
    for r in served:
        if r.read_only:  # metrics.k8s.io: no schema here (kubectl top reads it without OpenAPI)
            continue
        if r.virtual:
            roots.append(kind_type(r))
            paths.update(_review_paths(r))
            continue
        roots += [kind_type(r), kind_type(r) + "List"]
        for name in r.subresources:
            sub = subresource(r, name)
            api_version = f"{sub.group}/{sub.version}" if sub.group else sub.version
            if (api_version, sub.kind) in KIND_TYPES:
                roots.append(KIND_TYPES[(api_version, sub.kind)])
        paths.update(_resource_paths(r))
    names: list[str] = []
    for root in roots:
        names += [n for n in referenced_types(root) if n not in names]
    schemas: Obj = {name: type_schema(name) for name in sorted(names)}
    used = {element_type(f.type) for name in names for f in TYPES[name].values()}
    for ref_type, component in _PRIMITIVE_REFS.items():
        if ref_type in used:
            schemas[component] = NAMED_PRIMITIVES[component]
    schemas[PATCH] = NAMED_PRIMITIVES[PATCH]
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                                                "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    }


@cache
def _cached(path: str) -> tuple[Obj, bytes, str] | None:
    for group, versions in group_versions().items():
        for version in versions:
            if _gv_path(group, version) == path:
                document = _build(group, version)
                body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
                return document, body, hashlib.sha512(body).hexdigest().upper()
    return None


def _normalise(path: str) -> str:
    return path.strip("/").removeprefix("openapi/v3/").split("?")[0]


def _lookup(path: str, registry: ResourceRegistry | None) -> tuple[Obj, bytes, str] | None:
    """The built-in document of a group/version, with the registry's custom resources of it merged in."""
    builtin = _cached(path)
    if registry is not None:
        from .crd.openapi import custom_document

        custom = custom_document(path, registry, builtin[0] if builtin else None)
        if custom is not None:
            return custom
    return builtin


def openapi_v3_document(group_version_path: str, registry: ResourceRegistry | None = None) -> Obj | None:
    """The OpenAPI v3 document of `api/v1` or `apis/<group>/<version>` (or a CRD's), or None. Cached: do not
    mutate."""
    cached = _lookup(_normalise(group_version_path), registry)
    return cached[0] if cached else None


def openapi_v3_document_json(group_version_path: str, registry: ResourceRegistry | None = None) -> bytes | None:
    """The same document serialised as JSON (what the server sends)."""
    cached = _lookup(_normalise(group_version_path), registry)
    return cached[1] if cached else None


OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def openapi_v2_protobuf() -> bytes:
    """/openapi/v2: an empty document (kubectl only asks for protobuf, and an empty message is valid).

    kubectl 1.32 reads v2 in two places: client-side validation of `kind: List` files (a 404 there
    fails the command; with an empty document it skips validation and each item is still checked
    by the server under fieldValidation=Strict) and as a fallback for strategic merge patch when v3
    fails (with no v2 schema it uses its compiled-in types). Everything else comes from v3.
    """
    return b""


def openapi_v3_index(registry: ResourceRegistry | None = None) -> Obj:
    """/openapi/v3: every group/version served (the registry's CRDs too), with a URL that changes when its
    document does."""
    paths: Obj = {}
    for group, versions in (registry.group_versions() if registry is not None else group_versions()).items():
        for version in versions:
            path = _gv_path(group, version)
            cached = _lookup(path, registry)
            assert cached is not None
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={cached[2]}"}
    return {"paths": paths}
