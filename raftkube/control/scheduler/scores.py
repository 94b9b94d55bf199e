"""Scores: how good is this node for this pod? Pure functions, each giving 0-100 after normalizing.

Per node a raw value (free capacity, same-owner pods, weights of matched preferences,
untolerated PreferNoSchedule taints); the normalizers turn the raw values of all feasible
nodes into 0-100 the way Kubernetes' plugins do. `WEIGHTS` sums them (Kubernetes' default
plugin weights); the highest total wins, ties going to the node with the smallest stable
hash of (pod uid, node name), so replicas agree and no randomness is needed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

from .filters import NsLabels, Pair
from .info import AffinityTerm, PodInfo
from .nodeinfo import NodeInfo

MAX_SCORE = 100
HARD_AFFINITY_WEIGHT = 1  # an existing pod's required affinity that selects the new pod counts this much
WEIGHTS = {"least_allocated": 1, "spread": 2, "node_affinity": 2, "interpod": 2, "taints": 3}


def _free_fraction(requested: int, capacity: int) -> int:
    if capacity <= 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_SCORE // capacity


def least_allocated(pod: PodInfo, node: NodeInfo) -> int:
    """The node's cpu and memory left after the pod (non-zero requests, as Kubernetes scores)."""
    return (_free_fraction(node.nz_cpu + pod.nz_cpu, node.alloc_cpu)
            + _free_fraction(node.nz_memory + pod.nz_memory, node.alloc_memory)) // 2


def least_allocated_all(pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
    """`least_allocated` for many nodes at once (the same formula, without a call per node)."""
    cpu, memory = pod.nz_cpu, pod.nz_memory
    out = []
    for node in nodes:
        c_cap, c_req, m_cap, m_req = node.alloc_cpu, node.nz_cpu + cpu, node.alloc_memory, node.nz_memory + memory
        c = (c_cap - c_req) * MAX_SCORE // c_cap if 0 < c_cap and c_req <= c_cap else 0
        m = (m_cap - m_req) * MAX_SCORE // m_cap if 0 < m_cap and m_req <= m_cap else 0
        out.append((c + m) // 2)
    return out


def same_owner_pods(pod: PodInfo, node: NodeInfo) -> int:
    """Pods on the node with the pod's controller (the replicas of the same ReplicaSet, Job, ...)."""
    return node.owners.get(pod.owner_uid, 0) if pod.owner_uid else 0


def spread_scores(counts: Sequence[int]) -> list[int]:
    """Fewer same-owner pods, higher score: 100 on the emptiest, 0 on the fullest."""
    most = max(counts, default=0)
    if most <= 0:
        return [MAX_SCORE] * len(counts)
    return [MAX_SCORE * (most - c) // most for c in counts]


def preferred_node_affinity(pod: PodInfo, node: NodeInfo) -> int:
    """The sum of the weights of the preferred node affinity terms the node matches."""
    return sum(weight for weight, term in pod.preferred_terms if term.matches(node.name, node.labels))


def soft_taints(pod: PodInfo, node: NodeInfo) -> int:
    """PreferNoSchedule taints the pod does not tolerate."""
    return sum(1 for taint in node.soft_taints if not any(tol.tolerates(taint) for tol in pod.tolerations))


def normalize(raw: Sequence[int | float], reverse: bool = False) -> list[int]:
    """Scale so the largest is 100 (Kubernetes' DefaultNormalizeScore); `reverse`: 100 - that."""
    most = max(raw, default=0)
    if most <= 0:
        return [MAX_SCORE if reverse else 0] * len(raw)
    scaled = [int(MAX_SCORE * r / most) for r in raw]
    return [MAX_SCORE - s for s in scaled] if reverse else scaled


def normalize_min_max(raw: Sequence[int | float]) -> list[int]:
    """Scale so the smallest is 0 and the largest 100 (inter-pod affinity's normalizer)."""
    if not raw:
        return []
    low, high = min(raw), max(raw)
    if high <= low:
        return [0] * len(raw)
    return [int(MAX_SCORE * (r - low) / (high - low)) for r in raw]


def _add(prefs: dict[Pair, int], term: AffinityTerm, node: NodeInfo, weight: int) -> None:
    value = node.labels.get(term.topology_key)
    if value is not None:
        pair = (term.topology_key, value)
        prefs[pair] = prefs.get(pair, 0) + weight


def interpod_preferences(pod: PodInfo, existing: Iterable[tuple[PodInfo, NodeInfo]],
                         ns_labels: NsLabels | None = None) -> dict[Pair, int]:
    """Weight per topology pair: the pod's preferred (anti-)affinity for the pods there, and theirs
    for it (their required affinity counts HARD_AFFINITY_WEIGHT). `existing`: every pod on a
    node if the pod has preferred terms, else only the pods with affinity terms."""
    prefs: dict[Pair, int] = {}
    for other, node in existing:
        if other.key == pod.key:
            continue
        for weight, term in pod.preferred_affinity:
            if term.matches(other, ns_labels):
                _add(prefs, term, node, weight)
        for weight, term in pod.preferred_anti_affinity:
            if term.matches(other, ns_labels):
                _add(prefs, term, node, -weight)
        for term in other.affinity:
            if term.matches(pod, ns_labels):
                _add(prefs, term, node, HARD_AFFINITY_WEIGHT)
        for weight, term in other.preferred_affinity:
            if term.matches(pod, ns_labels):
                _add(prefs, term, node, weight)
        for weight, term in other.preferred_anti_affinity:
            if term.matches(pod, ns_labels):
                _add(prefs, term, node, -weight)
    return {pair: weight for pair, weight in prefs.items() if weight}


def interpod_raw(node: NodeInfo, prefs: dict[Pair, int]) -> int:
    """The node's raw inter-pod score: the weights of the topology pairs it belongs to."""
    labels = node.labels
    return sum(weight for (key, value), weight in prefs.items() if labels.get(key) == value)


def name_hash(name: str) -> int:
    return zlib.crc32(name.encode())


def tie_break(uid_hash: int, node_hash: int) -> int:
    """A stable hash of (pod uid, node name) from the crc32 of each: the same on every replica."""
    return ((uid_hash ^ node_hash) * 0x9E3779B1) & 0xFFFFFFFF


def best_node(uid: str, names: Sequence[str], totals: Sequence[int | float],
              hashes: Sequence[int] | None = None) -> str:
    """The highest total; among equals the smallest tie_break(uid, name). `hashes`: name_hash of
    each name, if the caller has them precomputed."""
    top = max(totals)
    uid_hash = name_hash(uid)
    hashes = hashes if hashes is not None else [name_hash(n) for n in names]
    return min((tie_break(uid_hash, h), name) for name, total, h in zip(names, totals, hashes, strict=True)
               if total == top)[1]
