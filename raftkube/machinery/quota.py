"""ResourceQuota arithmetic (Kubernetes' quota/v1 helpers and core evaluators), shared by the quota
admission plugin and the quota controller.

A resource list maps a resource name to a quantity kept as (exact value, format), so sums print as
Go's Quantity.String() does (the left operand's format wins unless it is zero, as in Quantity.Add). `usage(kind, obj)`
is what an object costs: a pod (not Succeeded/Failed) 1 of `pods` and `count/pods` plus its
requests and limits (the sum of its containers, at least the largest init container, plus
overhead; `requests.cpu` also counts as `cpu`); a Service, ConfigMap, Secret, PVC one of its
plural (a PVC also `requests.storage`, a Service `services.nodeports`/`services.loadbalancers`),
and every object one of `count/<plural>[.<group>]`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .quantity import Format, format_quantity, parse_quantity_format

Obj = dict[str, Any]
Quantity = tuple[Decimal, Format]
ResourceList = dict[str, Quantity]
COMPUTE = ("cpu", "memory", "ephemeral-storage")
# resources whose quota makes every container say how much it wants (Kubernetes' validationSet)
CONSTRAINED = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
OBJECT_COUNTS = {"Service": "services", "ConfigMap": "configmaps", "Secret": "secrets",
                 "PersistentVolumeClaim": "persistentvolumeclaims", "ReplicationController": "replicationcontrollers",
                 "ResourceQuota": "resourcequotas", "Pod": "pods"}


def parse_list(raw: Any) -> ResourceList:
    """A JSON resource list; unparseable entries are left out (validation refuses them on write)."""
    out: ResourceList = {}
    for key, value in (raw or {}).items() if isinstance(raw, dict) else ():
        try:
            out[str(key)] = parse_quantity_format(value)
        except ValueError:
            continue
    return out


def to_json(resources: ResourceList) -> dict[str, str]:
    return {key: format_quantity(value, fmt) for key, (value, fmt) in sorted(resources.items())}


def add(a: ResourceList, b: ResourceList) -> ResourceList:
    """a + b; a zero left operand takes the right one's format (Go's Quantity.Add)."""
    out = dict(a)
    for key, (value, fmt) in b.items():
        if key in out and out[key][0] != 0:
            out[key] = (out[key][0] + value, out[key][1])
        else:
            out[key] = (out[key][0] + value if key in out else value, fmt)
    return out


def subtract(a: ResourceList, b: ResourceList) -> ResourceList:
    out = dict(a)
    for key, (value, fmt) in b.items():
        out[key] = (out[key][0] - value, out[key][1]) if key in out else (-value, fmt)
    return out


def maximum(a: ResourceList, b: ResourceList) -> ResourceList:
    out = dict(a)
    for key, quantity in b.items():
        if key not in out or quantity[0] > out[key][0]:
            out[key] = quantity
    return out


def mask(resources: ResourceList, names: Any) -> ResourceList:
    keep = set(names)
    return {k: v for k, v in resources.items() if k in keep}


def remove_zeros(resources: ResourceList) -> ResourceList:
    return {k: v for k, v in resources.items() if v[0] != 0}


def exceeded(used: ResourceList, hard: ResourceList) -> list[str]:
    """Names whose used value is above the hard one (sorted); a name without a hard value is not limited."""
    return sorted(k for k, (value, _) in used.items() if k in hard and value > hard[k][0])


def pretty(resources: ResourceList) -> str:
    """Kubernetes' prettyPrint: `name=quantity` sorted by name, comma-separated."""
    return ",".join(f"{k}={format_quantity(v, f)}" for k, (v, f) in sorted(resources.items()))


def _one() -> Quantity:
    return (Decimal(1), "DecimalSI")


def container_usage(container: Obj) -> ResourceList:
    """podComputeUsageHelper: requests.X (and plain X for cpu/memory/ephemeral-storage), limits.X."""
    resources = container.get("resources") or {}
    out: ResourceList = {}
    for name, quantity in parse_list(resources.get("requests")).items():
        if name in COMPUTE:
            out[name] = quantity
            out[f"requests.{name}"] = quantity
        elif name.startswith("hugepages-"):
            out[f"requests.{name}"] = quantity
    for name, quantity in parse_list(resources.get("limits")).items():
        if name in COMPUTE:
            out[f"limits.{name}"] = quantity
    return out


def pod_is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_usage(pod: Obj) -> ResourceList:
    if pod_is_terminal(pod):
        return {}
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        total = add(total, container_usage(container))
    for container in spec.get("initContainers") or []:
        total = maximum(total, container_usage(container))
    overhead = parse_list(spec.get("overhead"))
    if overhead:
        total = add(total, {k2: v for k, v in overhead.items() if k in COMPUTE
                            for k2 in (k, f"requests.{k}", f"limits.{k}")})
    return {**total, "pods": _one(), "count/pods": _one()}


def count_name(plural: str, group: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def usage(kind: str, plural: str, group: str, obj: Obj) -> ResourceList:
    """What creating `obj` costs against a quota."""
    if kind == "Pod" and not group:
        return pod_usage(obj)
    out: ResourceList = {count_name(plural, group): _one()}
    if not group and kind in OBJECT_COUNTS:
        out[OBJECT_COUNTS[kind]] = _one()
    if kind == "PersistentVolumeClaim" and not group:
        storage = parse_list(((obj.get("spec") or {}).get("resources") or {}).get("requests")).get("storage")
        if storage is not None:
            out["requests.storage"] = storage
            class_name = (obj.get("spec") or {}).get("storageClassName")
            if class_name:
                out[f"{class_name}.storageclass.storage.k8s.io/requests.storage"] = storage
                out[f"{class_name}.storageclass.storage.k8s.io/persistentvolumeclaims"] = _one()
    if kind == "Service" and not group:
        spec = obj.get("spec") or {}
        ports = len(spec.get("ports") or [])
        if spec.get("type") == "LoadBalancer":
            out["services.loadbalancers"] = _one()
            out["services.nodeports"] = (Decimal(ports), "DecimalSI")
        elif spec.get("type") == "NodePort":
            out["services.nodeports"] = (Decimal(ports), "DecimalSI")
    return out


POD_RESOURCES = frozenset({"pods", "count/pods", *COMPUTE,
                           *(f"{kind}.{r}" for kind in ("requests", "limits") for r in COMPUTE)})
CORE_EXTRA = {"services": ("services.nodeports", "services.loadbalancers"),
              "persistentvolumeclaims": ("requests.storage",)}


def matching(kind: str, plural: str, group: str, hard: ResourceList) -> set[str]:
    """The names of `hard` an object of this kind is counted against (the evaluator's MatchingResources)."""
    if kind == "Pod" and not group:
        return {k for k in hard if k in POD_RESOURCES or k.startswith("requests.hugepages-")}
    names = {count_name(plural, group)}
    if not group and kind in OBJECT_COUNTS:
        names |= {plural, *CORE_EXTRA.get(plural, ())}
    if kind == "PersistentVolumeClaim" and not group:
        return {k for k in hard if k in names or k.endswith((".storageclass.storage.k8s.io/requests.storage",
                                                              ".storageclass.storage.k8s.io/persistentvolumeclaims"))}
    return {k for k in hard if k in names}


def missing_constraints(pod: Obj, restricted: set[str]) -> str | None:
    """The `must specify ...` message when a container does not set what a quota on cpu/memory needs."""
    required = restricted & CONSTRAINED
    if not required:
        return None
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        has = set(container_usage(container))
        for name in required - has:
            missing.setdefault(name, set()).add(str(container.get("name", "")))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def _best_effort(pod: Obj) -> bool:
    """Kubernetes' QoS BestEffort: no container asks for or is limited in cpu or memory."""
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            if any(name in ("cpu", "memory") for name in (resources.get(kind) or {})):
                return False
    return True


def _scope_value(scope: str, pod: Obj) -> bool | str | None:
    spec = pod.get("spec") or {}
    deadline = spec.get("activeDeadlineSeconds")
    terminating = isinstance(deadline, int) and deadline >= 0
    return {"Terminating": terminating, "NotTerminating": not terminating, "BestEffort": _best_effort(pod),
            "NotBestEffort": not _best_effort(pod), "PriorityClass": spec.get("priorityClassName") or None,
            "CrossNamespacePodAffinity": False}.get(scope)


def scope_requirements(quota_spec: Obj) -> list[Obj]:
    """spec.scopes (each an Exists) and spec.scopeSelector's matchExpressions, as Kubernetes combines them."""
    out = [{"scopeName": scope, "operator": "Exists"} for scope in quota_spec.get("scopes") or []]
    return out + list((quota_spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def is_scoped(quota_spec: Obj) -> bool:
    return bool(scope_requirements(quota_spec))


def pod_in_scope(quota_spec: Obj, pod: Obj) -> bool:
    """Whether a scoped quota counts this pod (every requirement holds)."""
    for req in scope_requirements(quota_spec):
        scope, op, values = req.get("scopeName"), req.get("operator"), req.get("values") or []
        value = _scope_value(str(scope), pod)
        if scope == "PriorityClass":
            holds = {"In": value in values, "NotIn": value not in values, "Exists": value is not None,
                     "DoesNotExist": value is None}.get(str(op), False)
        else:
            holds = bool(value) if op == "Exists" else (not value if op == "DoesNotExist" else False)
        if not holds:
            return False
    return True

