"""The field schema of every kind served: `TYPES` (type name -> fields) and `KIND_TYPES`.

`TYPES` holds the types generated from the pinned Kubernetes v1.32 spec (`generated.py`, written
by `python -m raftkube.api.schema.generate` from the roots in `roots.py`), the few meta types the
spec leaves out (`types_meta.py`: Table, PartialObjectMetadata; hand-kept modules in `_MODULES`
win where they define a type) and a `<Kind>List` type per served resource.

Type names are Kubernetes' OpenAPI names (`io.k8s.api.core.v1.PodSpec`). `KIND_TYPES` maps
(apiVersion, kind) to the root type of a kind, including the `<Kind>List` kinds, Scale,
Status, DeleteOptions, Binding and Table. `TYPE_DESCRIPTIONS` describes the types themselves;
`ATOMIC_STRUCTS` are the structs that apply and merge replace as a whole.
"""

from __future__ import annotations

from ..resources import RESOURCES, REVIEWS, Resource
from . import generated, types_meta
from .build import AUTHN, AUTOSCALING, CORE, META, list_fields
from .model import Field, TypeFields

__all__ = ["ATOMIC_STRUCTS", "KIND_TYPES", "TYPES", "TYPE_DESCRIPTIONS", "Field", "TypeFields", "element_type",
           "kind_type", "referenced_types"]

_MODULES = (types_meta,)

TYPES: dict[str, TypeFields] = dict(generated.TYPES)
TYPE_DESCRIPTIONS: dict[str, str] = dict(generated.DESCRIPTIONS)
_HAND_KEPT: set[str] = set()
for _module in _MODULES:
    _HAND_KEPT.update(_module.TYPES)
    TYPES.update(_module.TYPES)
    TYPE_DESCRIPTIONS.update(_module.DESCRIPTIONS)

PRIMITIVES = frozenset({"string", "integer", "number", "boolean", "int-or-string", "quantity", "time", "object",
                        "any"})


_GROUP_PACKAGES = {"apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
                   "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration"}


def kind_type(resource: Resource) -> str:
    """The root type name of a served resource: `io.k8s.api.<group>.<version>.<Kind>` (as Kubernetes names it)."""
    group = resource.group.split(".")[0] if resource.group else "core"
    package = _GROUP_PACKAGES.get(resource.group, f"io.k8s.api.{group}")
    return f"{package}.{resource.version}.{resource.kind}"


KIND_TYPES: dict[tuple[str, str], str] = {}
for _r in RESOURCES:
    _root = kind_type(_r)
    KIND_TYPES[(_r.api_version, _r.kind)] = _root
    KIND_TYPES[(_r.api_version, _r.list_kind)] = _root + "List"
    TYPES[_root + "List"] = list_fields(_root, _r.plural)
    TYPE_DESCRIPTIONS[_root + "List"] = f"{_r.list_kind} is a list of {_r.kind} objects."
for _r in REVIEWS:  # never stored, never listed: no <Kind>List
    KIND_TYPES[(_r.api_version, _r.kind)] = kind_type(_r)

KIND_TYPES.update({
    ("autoscaling/v1", "Scale"): AUTOSCALING + "Scale",
    ("v1", "Binding"): CORE + "Binding",
    ("authentication.k8s.io/v1", "TokenRequest"): AUTHN + "TokenRequest",
    ("v1", "Status"): META + "Status",
    ("v1", "DeleteOptions"): META + "DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): META + "DeleteOptions",
    ("meta.k8s.io/v1", "Table"): META + "Table",
    ("meta.k8s.io/v1", "PartialObjectMetadata"): META + "PartialObjectMetadata",
})

ATOMIC_STRUCTS: frozenset[str] = generated.ATOMIC - _HAND_KEPT
"""Structs marked x-kubernetes-map-type: atomic in the spec."""


def element_type(type_: str) -> str:
    """The innermost type of `[]T` / `map[string]T` (T itself otherwise)."""
    while True:
        if type_.startswith("[]"):
            type_ = type_[2:]
        elif type_.startswith("map[string]"):
            type_ = type_[len("map[string]"):]
        else:
            return type_


def referenced_types(root: str) -> list[str]:
    """`root` and every named type reachable from it, in discovery order."""
    seen: list[str] = []
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen or name not in TYPES:
            continue
        seen.append(name)
        for field in TYPES[name].values():
            inner = element_type(field.type)
            if inner not in PRIMITIVES:
                todo.append(inner)
    return seen
