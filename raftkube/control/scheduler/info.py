"""What the scheduler needs of a pod, parsed once: requests, selectors, affinity terms, tolerations.

`PodInfo.of(pod)` turns a Pod object into plain ints, frozen sets and compiled selectors so
that the filters and scores, which run once per (pod, node), do no parsing. Quantities are
cpu in millicores and everything else in units (bytes, counts), rounded up as Kubernetes does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...machinery.labels import LabelSelector, selector_from_spec
from ...machinery.quantity import parse_quantity

Obj = dict[str, Any]
CPU, MEMORY, EPHEMERAL, PODS = "cpu", "memory", "ephemeral-storage", "pods"
DEFAULT_SCHEDULER = "default-scheduler"
# what Kubernetes assumes a pod without requests uses, for scoring only (never for fit)
DEFAULT_MILLI_CPU, DEFAULT_MEMORY = 100, 200 * 1024 * 1024
TERMINAL_PHASES = ("Succeeded", "Failed")


@lru_cache(maxsize=4096)
def quantity(value: str | int | float, milli: bool = False) -> int:
    """A quantity as an int (millis for cpu), rounded up; an unparsable one counts as 0."""
    try:
        parsed = parse_quantity(value)
    except (ValueError, TypeError):
        return 0
    return int(math.ceil(parsed * 1000)) if milli else int(math.ceil(parsed))


def resource_list(values: Any) -> dict[str, int]:
    if not isinstance(values, dict):
        return {}
    return {name: quantity(v, name == CPU) for name, v in values.items() if isinstance(v, str | int | float)}


def _container_requests(container: Any) -> dict[str, int]:
    resources = (container.get("resources") if isinstance(container, dict) else None) or {}
    # a request left out but limited defaults to the limit (the API server's defaulting)
    return {**resource_list(resources.get("limits")), **resource_list(resources.get("requests"))}


def pod_requests(spec: Obj) -> dict[str, int]:
    """sum(containers) and max(initContainers), the larger per resource, plus the pod overhead."""
    total: dict[str, int] = {}
    for container in spec.get("containers") or []:
        for name, value in _container_requests(container).items():
            total[name] = total.get(name, 0) + value
    for container in spec.get("initContainers") or []:
        for name, value in _container_requests(container).items():
            total[name] = max(total.get(name, 0), value)
    for name, value in resource_list(spec.get("overhead")).items():
        total[name] = total.get(name, 0) + value
    return total


# ------------------------------------------------------------------ node selector terms
@dataclass(frozen=True)
class NodeRequirement:
    key: str
    op: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: frozenset[str] = frozenset()
    bound: int | None = None  # Gt/Lt

    def matches(self, value: str | None) -> bool:
        op = self.op
        if op == "In":
            return value is not None and value in self.values
        if op == "NotIn":
            return value is None or value not in self.values
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        if value is None or self.bound is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        return number > self.bound if op == "Gt" else number < self.bound if op == "Lt" else False


def _requirement(expr: Any) -> NodeRequirement:
    expr = expr if isinstance(expr, dict) else {}
    values = [str(v) for v in expr.get("values") or []]
    bound = None
    if expr.get("operator") in ("Gt", "Lt") and len(values) == 1:
        try:
            bound = int(values[0])
        except ValueError:
            bound = None
    return NodeRequirement(str(expr.get("key") or ""), str(expr.get("operator") or ""), frozenset(values), bound)


@dataclass(frozen=True)
class NodeTerm:
    """A NodeSelectorTerm: every matchExpression (on labels) and matchField (metadata.name) holds."""

    labels: tuple[NodeRequirement, ...] = ()
    fields: tuple[NodeRequirement, ...] = ()

    @classmethod
    def of(cls, term: Any) -> NodeTerm:
        term = term if isinstance(term, dict) else {}
        return cls(tuple(_requirement(e) for e in term.get("matchExpressions") or []),
                   tuple(_requirement(e) for e in term.get("matchFields") or []))

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if not self.labels and not self.fields:
            return False  # an empty term selects no node (Kubernetes)
        for req in self.fields:
            if not req.matches(name if req.key == "metadata.name" else None):
                return False
        return all(req.matches(labels.get(req.key)) for req in self.labels)


# ------------------------------------------------------------------ pod affinity terms
@dataclass(frozen=True)
class AffinityTerm:
    """A PodAffinityTerm of a pod in `namespace`: which pods it selects, over which topology key."""

    selector: LabelSelector
    topology_key: str
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None = None  # None: only `namespaces`

    @classmethod
    def of(cls, term: Any, namespace: str) -> AffinityTerm:
        term = term if isinstance(term, dict) else {}
        spec = term.get("labelSelector")
        selector = selector_from_spec(spec) if isinstance(spec, dict) else LabelSelector(match_nothing=True)
        names = frozenset(str(n) for n in term.get("namespaces") or [])
        ns_spec = term.get("namespaceSelector")
        ns_selector = selector_from_spec(ns_spec) if isinstance(ns_spec, dict) else None
        if not names and ns_selector is None:
            names = frozenset((namespace,))
        return cls(selector, str(term.get("topologyKey") or ""), names, ns_selector)

    def matches(self, pod: PodInfo, ns_labels: dict[str, dict[str, str]] | None = None) -> bool:
        if pod.namespace not in self.namespaces:
            if self.namespace_selector is None:
                return False
            if not self.namespace_selector.matches((ns_labels or {}).get(pod.namespace, {})):
                return False
        return self.selector.matches(pod.labels)


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    @classmethod
    def of(cls, tol: Any) -> Toleration:
        tol = tol if isinstance(tol, dict) else {}
        return cls(str(tol.get("key") or ""), str(tol.get("operator") or "Equal"), str(tol.get("value") or ""),
                   str(tol.get("effect") or ""))

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def of(cls, taint: Any) -> Taint:
        taint = taint if isinstance(taint, dict) else {}
        return cls(str(taint.get("key") or ""), str(taint.get("value") or ""), str(taint.get("effect") or ""))


# ------------------------------------------------------------------ the pod
def _weighted(items: Any, parse: Any) -> tuple[tuple[int, Any], ...]:
    out = []
    for item in items or []:
        if isinstance(item, dict) and int(item.get("weight") or 0):
            out.append((int(item["weight"]), parse(item)))
    return tuple(out)


@dataclass(eq=False)
class PodInfo:
    key: str
    uid: str
    namespace: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    node_name: str = ""
    owner_uid: str = ""
    priority: int = 0
    terminal: bool = False
    cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    scalars: dict[str, int] = field(default_factory=dict)  # extended resources (e.g. example.com/gpu)
    nz_cpu: int = DEFAULT_MILLI_CPU  # requests for scoring: Kubernetes' defaults where none are set
    nz_memory: int = DEFAULT_MEMORY
    node_selector: dict[str, str] = field(default_factory=dict)
    required_terms: tuple[NodeTerm, ...] | None = None  # None: no required node affinity
    preferred_terms: tuple[tuple[int, NodeTerm], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    affinity: tuple[AffinityTerm, ...] = ()  # required pod affinity
    anti_affinity: tuple[AffinityTerm, ...] = ()  # required pod anti-affinity
    preferred_affinity: tuple[tuple[int, AffinityTerm], ...] = ()
    preferred_anti_affinity: tuple[tuple[int, AffinityTerm], ...] = ()

    @property
    def has_pod_terms(self) -> bool:
        return bool(self.affinity or self.anti_affinity or self.preferred_affinity or self.preferred_anti_affinity)

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        namespace = str(meta.get("namespace") or "")
        name = str(meta.get("name") or "")
        owner = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
        requests = pod_requests(spec)
        info = cls(key=f"{namespace}/{name}" if namespace else name, uid=str(meta.get("uid") or ""),
                   namespace=namespace, name=name, labels=dict(meta.get("labels") or {}),
                   node_name=str(spec.get("nodeName") or ""), owner_uid=str((owner or {}).get("uid") or ""),
                   priority=int(spec.get("priority") or 0),
                   terminal=(pod.get("status") or {}).get("phase") in TERMINAL_PHASES,
                   cpu=requests.pop(CPU, 0), memory=requests.pop(MEMORY, 0), ephemeral=requests.pop(EPHEMERAL, 0),
                   node_selector=dict(spec.get("nodeSelector") or {}),
                   tolerations=tuple(Toleration.of(t) for t in spec.get("tolerations") or []))
        requests.pop(PODS, None)
        info.scalars = {k: v for k, v in requests.items() if v}
        info.nz_cpu = info.cpu or DEFAULT_MILLI_CPU
        info.nz_memory = info.memory or DEFAULT_MEMORY
        affinity = spec.get("affinity") or {}
        node_aff = affinity.get("nodeAffinity") or {}
        required = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(required, dict):
            info.required_terms = tuple(NodeTerm.of(t) for t in required.get("nodeSelectorTerms") or [])
        info.preferred_terms = _weighted(node_aff.get("preferredDuringSchedulingIgnoredDuringExecution"),
                                         lambda item: NodeTerm.of(item.get("preference")))
        for attr, source in (("affinity", "podAffinity"), ("anti_affinity", "podAntiAffinity")):
            section = affinity.get(source) or {}
            setattr(info, attr, tuple(AffinityTerm.of(t, namespace) for t in
                                      section.get("requiredDuringSchedulingIgnoredDuringExecution") or []))
            setattr(info, f"preferred_{attr}", _weighted(
                section.get("preferredDuringSchedulingIgnoredDuringExecution"),
                lambda item: AffinityTerm.of(item.get("podAffinityTerm"), namespace)))
        return info


def is_assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def scheduler_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER)


def needs_scheduling(pod: Obj, name: str = DEFAULT_SCHEDULER) -> bool:
    """Unassigned, for this scheduler, not finished and not being deleted."""
    return (not is_assigned(pod) and scheduler_name(pod) == name
            and not (pod.get("metadata") or {}).get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES)
