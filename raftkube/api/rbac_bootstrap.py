"""The default RBAC policy, created and reconciled by every API server when it starts.

Missing defaults are created; existing ones annotated `rbac.authorization.kubernetes.io/autoupdate:
"true"` get back what they lack (rules or subjects the defaults add; extra ones a user granted
are kept, as Kubernetes' reconciliation does); any other (autoupdate "false") is left alone.
The aggregated roles (admin, edit, view) are written with their aggregated rules, computed
from every ClusterRole the store holds, so they work before the aggregation controller runs.
Safe on several replicas at once: writes are compare-and-swap, and a lost race is a no-op.
"""

from __future__ import annotations

import copy
from typing import Any

from ..machinery.rbac_aggregation import aggregate_all
from .authz.rbac_index import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES
from .errors import APIError
from .rbac_defaults import AUTOUPDATE, default_cluster_role_bindings, default_cluster_roles
from .resources import Resource
from .router import Target
from .storage import ObjectStorage
from .writes import WriteOptions, Writer

Obj = dict[str, Any]
MANAGER = "raftkube-bootstrap"


def _reconciled(existing: Obj, wanted: Obj, fields: tuple[str, ...]) -> Obj | None:
    """`existing` with what `wanted` adds (None: nothing to do, or the object opted out of updates)."""
    meta = existing.get("metadata") or {}
    if (meta.get("annotations") or {}).get(AUTOUPDATE, "true") != "true":
        return None
    out = copy.deepcopy(existing)
    for key in fields:
        have = list(out.get(key) or [])
        have += [item for item in wanted.get(key) or [] if item not in have]
        out[key] = have
    if "aggregationRule" in wanted:
        out["aggregationRule"] = wanted["aggregationRule"]
    out_meta = out.setdefault("metadata", {})
    out_meta["labels"] = {**(out_meta.get("labels") or {}), **wanted["metadata"]["labels"]}
    out_meta["annotations"] = {**(out_meta.get("annotations") or {}), **wanted["metadata"]["annotations"]}
    return None if out == existing else out


async def _ensure(writer: Writer, resource: Resource, wanted: Obj, existing: Obj | None,
                  fields: tuple[str, ...]) -> None:
    name = wanted["metadata"]["name"]
    opts = WriteOptions(manager=MANAGER)
    try:
        if existing is None:
            await writer.create(Target(resource, None, None), wanted, opts)
            return
        if existing.get("roleRef") not in (None, wanted.get("roleRef")):
            return  # a binding of the same name to another role is the user's: roleRef cannot change
        body = _reconciled(existing, wanted, fields)
        if body is not None:
            await writer.update(Target(resource, None, name), body, opts)
    except APIError as err:
        if err.reason not in ("AlreadyExists", "Conflict"):  # another replica did it first
            raise


async def ensure_default_rbac(storage: ObjectStorage) -> None:
    """Create or reconcile the default ClusterRoles and ClusterRoleBindings."""
    writer = Writer(storage)
    stored = {r["metadata"]["name"]: r for r in (await storage.list(CLUSTER_ROLES, None)).items}
    defaults = default_cluster_roles()
    names = {role["metadata"]["name"] for role in defaults}
    # aggregate over what the store holds (custom roles with aggregate-to labels) and the defaults
    pool = defaults + [copy.deepcopy(role) for name, role in stored.items() if name not in names]
    aggregate_all(pool)
    for role in defaults:
        await _ensure(writer, CLUSTER_ROLES, role, stored.get(role["metadata"]["name"]), ("rules",))
    bindings = {b["metadata"]["name"]: b for b in (await storage.list(CLUSTER_ROLE_BINDINGS, None)).items}
    for binding in default_cluster_role_bindings():
        await _ensure(writer, CLUSTER_ROLE_BINDINGS, binding, bindings.get(binding["metadata"]["name"]),
                      ("subjects",))
