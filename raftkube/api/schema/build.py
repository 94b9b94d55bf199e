"""Short constructors for `Field`, so that the type tables read one field per line."""

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

Enum = tuple[str, ...]


def s(desc: str, *, req: bool = False, enum: Enum = ()) -> Field:
    """A string."""
    return Field("string", req, desc, enum)


def i32(desc: str, *, req: bool = False) -> Field:
    return Field("integer", req, desc, format="int32")


def i64(desc: str, *, req: bool = False) -> Field:
    return Field("integer", req, desc, format="int64")


def b(desc: str, *, req: bool = False) -> Field:
    return Field("boolean", req, desc)


def t(desc: str, *, req: bool = False) -> Field:
    """A timestamp (RFC 3339)."""
    return Field("time", req, desc)


def q(desc: str, *, req: bool = False) -> Field:
    """A resource quantity such as `100m` or `1Gi`."""
    return Field("quantity", req, desc)


def ios(desc: str, *, req: bool = False) -> Field:
    """An IntOrString: a number or a name/percentage."""
    return Field("int-or-string", req, desc)


def obj(desc: str, *, req: bool = False) -> Field:
    """A free-form object: not modelled, unknown fields kept."""
    return Field("object", req, desc)


def ref(type_name: str, desc: str, *, req: bool = False, strategy: str | None = None) -> Field:
    """A nested object of a named type (a key of TYPES)."""
    return Field(type_name, req, desc, patch_strategy=strategy)


def lst(item: str, desc: str, *, req: bool = False, strategy: str | None = None, key: str | None = None,
        keys: tuple[str, ...] = (), lt: str | None = None, fmt: str = "") -> Field:
    """A list of `item`; `keys` makes it a list-map (x-kubernetes-list-type: map)."""
    list_type = lt or ("map" if keys else "atomic")
    return Field("[]" + item, req, desc, patch_strategy=strategy, merge_key=key, list_type=list_type,
                 list_map_keys=keys, format=fmt)


def strs(desc: str, *, req: bool = False, lt: str = "atomic", strategy: str | None = None) -> Field:
    """A list of strings."""
    return lst("string", desc, req=req, lt=lt, strategy=strategy)


def by_name(item: str, desc: str, *, strategy: str = "merge", req: bool = False) -> Field:
    """A list of objects keyed by `name` (merge by name in strategic merge patch and apply)."""
    return lst(item, desc, req=req, strategy=strategy, key="name", keys=("name",))


def smap(desc: str, *, atomic: bool = False, fmt: str = "") -> Field:
    """A map from strings to strings (`fmt="byte"`: base64 values)."""
    return Field("map[string]string", False, desc, format=fmt, map_type="atomic" if atomic else None)


def qmap(desc: str) -> Field:
    """A resource list: resource name -> quantity."""
    return Field("map[string]quantity", False, desc)


def conditions(item: str, desc: str, *, list_type: str = "map") -> Field:
    """`status.conditions`: merged by `type`."""
    keys = ("type",) if list_type == "map" else ()
    return lst(item, desc, strategy="merge", key="type", keys=keys, lt=list_type)


API_VERSION = s("The versioned schema of this representation of an object (group/version, or just version for "
                "the core group). Servers convert recognised schemas to the latest internal value.")
KIND = s("The REST resource this object represents, in CamelCase. Servers may infer it from the endpoint "
         "the client submits requests to; it cannot be updated.")
OBJECT_META = ref(META + "ObjectMeta", "Standard object metadata: name, namespace, labels, annotations, owners.")
LIST_META = ref(META + "ListMeta", "Standard list metadata: resourceVersion and continue token.")

CONDITION_STATUS: Enum = ("True", "False", "Unknown")


def kind_fields(spec: str | None, status: str | None, spec_desc: str = "", status_desc: str = "") -> dict[str, Field]:
    """apiVersion, kind, metadata and (optionally) spec and status of a top-level kind."""
    out = {"apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META}
    if spec:
        out["spec"] = ref(spec, spec_desc or "The desired behaviour of this object.")
    if status:
        out["status"] = ref(status, status_desc or "The most recently observed status of this object, "
                            "written by the system. Read-only.")
    return out


def condition_fields(kind: str, *, probe_time: bool = False, update_time: bool = False) -> dict[str, Field]:
    """The fields shared by the `<Kind>Condition` types."""
    out = {
        "type": s(f"Type of the {kind} condition.", req=True),
        "status": s("Status of the condition: True, False or Unknown.", req=True, enum=CONDITION_STATUS),
    }
    if probe_time:
        out["lastProbeTime"] = t("Last time the condition was probed.")
    if update_time:
        out["lastUpdateTime"] = t("The last time this condition was updated.")
    out["lastTransitionTime"] = t("Last time the condition moved from one status to another.")
    out["reason"] = s("A unique, one-word, CamelCase reason for the condition's last transition.")
    out["message"] = s("A human-readable message with details about the last transition.")
    return out
