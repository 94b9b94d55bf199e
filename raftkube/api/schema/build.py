"""Type-name prefixes and the fields every kind and list shares, for the hand-kept tables (`types_meta`)
and the `<Kind>List` types `schema/__init__` builds."""

from __future__ import annotations

from .model import Field

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."
COORD = "io.k8s.api.coordination.v1."
AUTOSCALING = "io.k8s.api.autoscaling.v1."
RBAC = "io.k8s.api.rbac.v1."
AUTHZ = "io.k8s.api.authorization.v1."
AUTHN = "io.k8s.api.authentication.v1."

API_VERSION = Field("string", description="APIVersion defines the versioned schema of this representation of an "
                    "object. Servers should convert recognized schemas to the latest internal value, and may reject "
                    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture"
                    "/api-conventions.md#resources")
KIND = Field("string", description="Kind is a string value representing the REST resource this object represents. "
             "Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In "
             "CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
             "api-conventions.md#types-kinds")
OBJECT_META = Field(META + "ObjectMeta", description="Standard object's metadata. More info: https://git.k8s.io/"
                    "community/contributors/devel/sig-architecture/api-conventions.md#metadata")
LIST_META = Field(META + "ListMeta", description="Standard list metadata. More info: https://git.k8s.io/community/"
                  "contributors/devel/sig-architecture/api-conventions.md#types-kinds")


def list_fields(item: str, plural: str) -> dict[str, Field]:
    """The fields of `<Kind>List`: apiVersion, kind, metadata and the items."""
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": LIST_META,
            "items": Field("[]" + item, True, f"List of {plural}.", list_type="atomic")}
