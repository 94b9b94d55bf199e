"""The custom kinds a controller must know about, read from an informer on the CRDs.

One `Resource` per CRD (its storage version when served, else its first served version):
every version names the same objects, so one is enough to list, watch and delete them.
"""

from __future__ import annotations

from typing import Any

from ..api.crd.resource import CustomResource, served_resources
from ..client import Informer

Obj = dict[str, Any]
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def crd_resource(crd: Obj) -> CustomResource | None:
    """The one resource that names a CRD's objects (None if the CRD is not Established or serves nothing)."""
    served = served_resources(crd)
    storage = next((r for r in served if r.version == r.storage_version), None)
    return storage or (served[0] if served else None)


def custom_resources(crds: Informer) -> list[CustomResource]:
    found = (crd_resource(crd) for crd in crds.cache.list())
    return [r for r in found if r is not None]
