"""One scheduling decision: filter the nodes, score the feasible ones, pick the best. O(nodes).

As Kubernetes does, a decision stops filtering once it has found enough feasible nodes
(all of them below 100 nodes; an adaptive share, at least 100, above) and the next decision
starts where this one stopped, so every node gets its turn. The common pod (no selectors,
no affinity, on an untainted ready node) takes a fast path of a few integer comparisons;
anything else goes through `filters.run_filters`. Synchronous: it never awaits, so it sees
one consistent cache (the assumed pods of earlier decisions included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import scores as sc
from .cache import SchedulerCache
from .filters import InterPodState, fit_error, interpod, interpod_prefilter, run_filters
from .info import PodInfo
from .nodeinfo import NodeInfo

MIN_FEASIBLE_NODES = 100


@dataclass
class Decision:
    node: str | None
    message: str = ""  # why no node fits
    evaluated: int = 0
    feasible: int = 0


def feasible_nodes_to_find(total: int, percentage: int = 0) -> int:
    """How many feasible nodes are enough (Kubernetes' numFeasibleNodesToFind)."""
    if total < MIN_FEASIBLE_NODES or percentage >= 100:
        return total
    share = percentage or max(5, 50 - total // 125)
    return min(total, max(MIN_FEASIBLE_NODES, total * share // 100))


class Algorithm:
    def __init__(self, cache: SchedulerCache, percentage_of_nodes: int = 0) -> None:
        self.cache = cache
        self.percentage = percentage_of_nodes
        self._next_start = 0

    def schedule(self, pod: PodInfo, extra: Callable[[NodeInfo], str | None] | None = None) -> Decision:
        """`extra`: one more filter (the pod's volumes' node affinity), after the others."""
        cache = self.cache
        nodes = cache.node_list()
        total = len(nodes)
        if total == 0:
            return Decision(None, fit_error(0, {}))
        state = self._prefilter(pod)
        feasible, histogram, checked = self._filter(pod, nodes, state, extra)
        if not feasible:
            return Decision(None, fit_error(total, histogram), checked, 0)
        if len(feasible) == 1:
            return Decision(feasible[0].name, "", checked, 1)
        totals = self._score(pod, feasible)
        best = sc.best_node(pod.uid, [n.name for n in feasible], totals, [n.name_hash for n in feasible])
        return Decision(best, "", checked, len(feasible))

    def _prefilter(self, pod: PodInfo) -> InterPodState | None:
        cache = self.cache
        if not (pod.affinity or pod.anti_affinity or cache.anti_pods):
            return None
        existing = cache.with_nodes(cache.candidates_for(pod)) if pod.affinity or pod.anti_affinity else ()
        state = interpod_prefilter(pod, existing, cache.with_nodes(cache.anti_pods.values()), cache.ns_labels)
        return None if state.trivial_for(pod) else state

    def _filter(self, pod: PodInfo, nodes: list[NodeInfo], state: InterPodState | None,
                extra: Callable[[NodeInfo], str | None] | None = None) -> tuple[list[NodeInfo], dict[str, int], int]:
        total = len(nodes)
        wanted = feasible_nodes_to_find(total, self.percentage)
        start = self._next_start % total
        feasible: list[NodeInfo] = []
        histogram: dict[str, int] = {}
        fast = (extra is None and not pod.node_selector and pod.required_terms is None and not pod.ephemeral
                and not pod.scalars)
        cpu, memory = pod.cpu, pod.memory
        checked = 0
        for i in range(total):
            node = nodes[(start + i) % total]
            checked += 1
            if (fast and node.plain and len(node.pods) < node.alloc_pods and node.req_cpu + cpu <= node.alloc_cpu
                    and node.req_memory + memory <= node.alloc_memory
                    and (state is None or interpod(pod, node, state) is None)):
                feasible.append(node)
            else:
                reasons = run_filters(pod, node, state)
                if not reasons and extra is not None:
                    reason = extra(node)
                    reasons = [reason] if reason else []
                if reasons:
                    for reason in reasons:
                        histogram[reason] = histogram.get(reason, 0) + 1
                    continue
                feasible.append(node)
            if len(feasible) >= wanted:
                break
        self._next_start = (start + checked) % total
        return feasible, histogram, checked

    def _score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        weights = sc.WEIGHTS
        w = weights["least_allocated"]
        totals = sc.least_allocated_all(pod, nodes)
        if w != 1:
            totals = [w * t for t in totals]
        if pod.owner_uid:
            owner = pod.owner_uid
            counts = [node.owners.get(owner, 0) for node in nodes]  # scores.same_owner_pods, inlined
            if any(counts):  # all equal (zero) adds the same to every node
                _add(totals, sc.spread_scores(counts), weights["spread"])
        if pod.preferred_terms:
            raw = [sc.preferred_node_affinity(pod, node) for node in nodes]
            _add(totals, sc.normalize(raw), weights["node_affinity"])
        if any(node.soft_taints for node in nodes):
            raw = [sc.soft_taints(pod, node) for node in nodes]
            _add(totals, sc.normalize(raw, reverse=True), weights["taints"])
        prefs = self._preferences(pod)
        if prefs:
            raw = [sc.interpod_raw(node, prefs) for node in nodes]
            _add(totals, sc.normalize_min_max(raw), weights["interpod"])
        return totals

    def _preferences(self, pod: PodInfo) -> dict[tuple[str, str], int]:
        cache = self.cache
        if pod.preferred_affinity or pod.preferred_anti_affinity:
            pods = {p.key: p for p in cache.candidates_for(pod)}
            pods.update(cache.affinity_pods)
            return sc.interpod_preferences(pod, cache.with_nodes(pods.values()), cache.ns_labels)
        if cache.affinity_pods:
            return sc.interpod_preferences(pod, cache.with_nodes(cache.affinity_pods.values()), cache.ns_labels)
        return {}


def _add(totals: list[int], scores: list[int], weight: int) -> None:
    for i, score in enumerate(scores):
        totals[i] += weight * score
