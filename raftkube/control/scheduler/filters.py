"""Filters: may this pod run on this node? Each a pure function returning why not (None: it may).

The reasons are Kubernetes' words, so `0/3 nodes are available: 1 Insufficient cpu, ...`
reads as kubectl users expect. Inter-pod (anti-)affinity is split as in Kubernetes: a
pre-filter pass over the existing pods counts, per topology pair (label key, value), the
pods that the new pod's terms select and the pods whose anti-affinity selects the new pod;
the per-node filter then only looks those counts up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .info import AffinityTerm, PodInfo, Taint, Toleration
from .nodeinfo import NodeInfo

NOT_READY = "node(s) were not ready"
UNSCHEDULABLE = "node(s) were unschedulable"
NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
POD_AFFINITY = "node(s) didn't match pod affinity rules"
POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
TOO_MANY_PODS = "Too many pods"
NOT_READY_TAINT = Taint("node.kubernetes.io/not-ready", "", "NoSchedule")
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
Pair = tuple[str, str]
NsLabels = dict[str, dict[str, str]]


def tolerated(taint: Taint, tolerations: Iterable[Toleration]) -> bool:
    return any(tol.tolerates(taint) for tol in tolerations)


def node_ready(pod: PodInfo, node: NodeInfo) -> str | None:
    """The node's Ready condition is True (or the pod tolerates node.kubernetes.io/not-ready)."""
    if node.ready or tolerated(NOT_READY_TAINT, pod.tolerations):
        return None
    return NOT_READY


def node_schedulable(pod: PodInfo, node: NodeInfo) -> str | None:
    """Not cordoned (spec.unschedulable), unless the pod tolerates node.kubernetes.io/unschedulable."""
    if not node.unschedulable or tolerated(UNSCHEDULABLE_TAINT, pod.tolerations):
        return None
    return UNSCHEDULABLE


def insufficient(pod: PodInfo, node: NodeInfo) -> list[str]:
    """What the node lacks for the pod: its pods' requests plus the pod's must fit in allocatable."""
    reasons = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append(TOO_MANY_PODS)
    if pod.cpu and node.req_cpu + pod.cpu > node.alloc_cpu:
        reasons.append("Insufficient cpu")
    if pod.memory and node.req_memory + pod.memory > node.alloc_memory:
        reasons.append("Insufficient memory")
    if pod.ephemeral and node.req_ephemeral + pod.ephemeral > node.alloc_ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name, value in pod.scalars.items():
        if node.req_scalars.get(name, 0) + value > node.alloc_scalars.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def matches_node_selector(pod: PodInfo, node: NodeInfo) -> bool:
    """spec.nodeSelector (every label equal) and required node affinity (any term)."""
    labels = node.labels
    for key, value in pod.node_selector.items():
        if labels.get(key) != value:
            return False
    if pod.required_terms is not None:
        return any(term.matches(node.name, labels) for term in pod.required_terms)
    return True


def node_affinity(pod: PodInfo, node: NodeInfo) -> str | None:
    return None if matches_node_selector(pod, node) else NODE_AFFINITY


def untolerated_taint(taints: Iterable[Taint], tolerations: Iterable[Toleration]) -> Taint | None:
    tolerations = tuple(tolerations)
    for taint in taints:
        if not tolerated(taint, tolerations):
            return taint
    return None


def taint_toleration(pod: PodInfo, node: NodeInfo) -> str | None:
    """Every NoSchedule/NoExecute taint is tolerated (PreferNoSchedule only lowers the score)."""
    taint = untolerated_taint(node.hard_taints, pod.tolerations)
    return None if taint is None else f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


# ------------------------------------------------------------------ inter-pod (anti-)affinity
@dataclass
class InterPodState:
    """Counts per topology pair, computed once per pod before its nodes are filtered."""

    affinity: dict[Pair, int] = field(default_factory=dict)  # pods matching all required affinity terms
    anti_affinity: dict[Pair, int] = field(default_factory=dict)  # pods the new pod's anti terms select
    existing_anti: dict[Pair, int] = field(default_factory=dict)  # existing pods whose anti terms select it
    self_match: bool = False  # the pod matches its own affinity terms (the first of a group may go anywhere)

    @property
    def empty(self) -> bool:
        return not self.affinity and not self.anti_affinity and not self.existing_anti

    def trivial_for(self, pod: PodInfo) -> bool:
        """Nothing to check for any node."""
        return self.empty and not pod.affinity


def _add(counts: dict[Pair, int], term: AffinityTerm, node: NodeInfo) -> None:
    value = node.labels.get(term.topology_key)
    if value is not None:
        pair = (term.topology_key, value)
        counts[pair] = counts.get(pair, 0) + 1


def interpod_prefilter(pod: PodInfo, existing: Iterable[tuple[PodInfo, NodeInfo]],
                       anti_holders: Iterable[tuple[PodInfo, NodeInfo]], ns_labels: NsLabels | None = None
                       ) -> InterPodState:
    """`existing`: pods already on nodes that the new pod's own terms may select (pass all of
    them when it has terms); `anti_holders`: the existing pods with required anti-affinity."""
    state = InterPodState()
    for other, node in anti_holders:
        if other.key == pod.key:
            continue
        for term in other.anti_affinity:
            if term.matches(pod, ns_labels):
                _add(state.existing_anti, term, node)
    if pod.affinity or pod.anti_affinity:
        for other, node in existing:
            if other.key == pod.key:
                continue
            if pod.affinity and all(term.matches(other, ns_labels) for term in pod.affinity):
                for term in pod.affinity:
                    _add(state.affinity, term, node)
            for term in pod.anti_affinity:
                if term.matches(other, ns_labels):
                    _add(state.anti_affinity, term, node)
        state.self_match = all(term.matches(pod, ns_labels) for term in pod.affinity)
    return state


def existing_anti_affinity(pod: PodInfo, node: NodeInfo, state: InterPodState) -> str | None:
    """No pod already running has an anti-affinity term that selects this pod in the node's domain."""
    for (key, value), count in state.existing_anti.items():
        if count > 0 and node.labels.get(key) == value:
            return EXISTING_ANTI_AFFINITY
    return None


def pod_anti_affinity(pod: PodInfo, node: NodeInfo, state: InterPodState) -> str | None:
    for term in pod.anti_affinity:
        value = node.labels.get(term.topology_key)
        if value is not None and state.anti_affinity.get((term.topology_key, value), 0) > 0:
            return POD_ANTI_AFFINITY
    return None


def pod_affinity(pod: PodInfo, node: NodeInfo, state: InterPodState) -> str | None:
    if not pod.affinity:
        return None
    satisfied = True
    for term in pod.affinity:
        value = node.labels.get(term.topology_key)
        if value is None:
            return POD_AFFINITY  # the node is in no domain of this topology
        if state.affinity.get((term.topology_key, value), 0) <= 0:
            satisfied = False
    if satisfied or (not state.affinity and state.self_match):
        return None
    return POD_AFFINITY


def interpod(pod: PodInfo, node: NodeInfo, state: InterPodState) -> str | None:
    """Kubernetes' order: the pod's affinity, its anti-affinity, then the existing pods' anti-affinity."""
    return (pod_affinity(pod, node, state) or pod_anti_affinity(pod, node, state)
            or existing_anti_affinity(pod, node, state))


# ------------------------------------------------------------------ all of them
def run_filters(pod: PodInfo, node: NodeInfo, state: InterPodState | None = None) -> list[str]:
    """Every reason this node cannot take the pod (empty: it can), in Kubernetes' filter order."""
    for check in (node_ready, node_schedulable, taint_toleration, node_affinity):
        reason = check(pod, node)
        if reason:
            return [reason]
    reasons = insufficient(pod, node)
    if reasons:
        return reasons
    if state is not None:
        reason = interpod(pod, node, state)
        if reason:
            return [reason]
    return []


def fit_error(total: int, histogram: dict[str, int]) -> str:
    """Kubernetes' FitError text: `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ... .`"""
    if total == 0:
        return "0/0 nodes are available: no nodes available to schedule pods."
    reasons = sorted(f"{count} {reason}" for reason, count in histogram.items())
    return f"0/{total} nodes are available: {', '.join(reasons)}."
