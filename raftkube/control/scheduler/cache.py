"""The scheduler's snapshot of the cluster: nodes, the pods bound to them, and the pods it assumed.

The informers feed it (Nodes, assigned Pods, Namespaces' labels); the scheduling loop adds
an *assumed* pod the moment it picks a node, before the bind is even sent, so the next
decision already counts it. When the informer later reports the pod bound, the assumption is
confirmed (or moved, if someone else bound it elsewhere); a failed bind forgets it. Every
update is incremental (per-node totals, per-namespace and affinity indexes). A decision runs
without awaiting, so it always sees one consistent state; that state is the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from .info import PodInfo
from .nodeinfo import NodeInfo, scheduling_view

Obj = dict[str, Any]


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pods: dict[str, PodInfo] = {}  # pods on nodes (bound or assumed), by namespace/name
        self.assumed: set[str] = set()
        self.by_namespace: dict[str, dict[str, PodInfo]] = {}
        self.affinity_pods: dict[str, PodInfo] = {}  # pods on nodes with any pod (anti-)affinity terms
        self.anti_pods: dict[str, PodInfo] = {}  # ... with required anti-affinity terms
        self.ns_labels: dict[str, dict[str, str]] = {}
        self._node_list: list[NodeInfo] | None = None

    # ------------------------------------------------------------------ nodes
    def set_node(self, node: Obj) -> bool:
        """Add or update a Node; True when something a decision depends on changed."""
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self.nodes.get(name)
        if info is None:
            self.nodes[name] = NodeInfo(name, node)
            self._node_list = None
            return True
        changed = scheduling_view(info.node) != scheduling_view(node)
        if info.node is None:
            self._node_list = None
        info.set_node(node)
        return changed

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None:
            return
        self._node_list = None
        if info.pods:
            info.node = None  # its pods stay accounted until they are deleted
            info.ready = info.plain = False
        else:
            del self.nodes[name]

    def node_list(self) -> list[NodeInfo]:
        """Nodes with a Node object, in name order (the order decisions walk them from a rotating start)."""
        if self._node_list is None:
            self._node_list = sorted((n for n in self.nodes.values() if n.node is not None), key=lambda n: n.name)
        return self._node_list

    def set_namespace(self, namespace: Obj) -> None:
        meta = namespace.get("metadata") or {}
        self.ns_labels[str(meta.get("name") or "")] = dict(meta.get("labels") or {})

    def remove_namespace(self, name: str) -> None:
        self.ns_labels.pop(name, None)

    # ------------------------------------------------------------------ pods
    def add_pod(self, pod: PodInfo) -> None:
        """A pod the informer reports on a node (new, changed, or confirming an assumption)."""
        self.assumed.discard(pod.key)
        self._remove(pod.key)
        if pod.terminal or not pod.node_name:
            return  # finished pods use nothing
        self._place(pod)

    def remove_pod(self, key: str) -> PodInfo | None:
        self.assumed.discard(key)
        return self._remove(key)

    def assume(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Count `pod` on `node_name` from now on, before the bind is acknowledged."""
        placed = replace(pod, node_name=node_name)
        self._remove(pod.key)
        self._place(placed)
        self.assumed.add(pod.key)
        return placed

    def forget(self, key: str) -> None:
        """Drop an assumption (its bind failed); a pod the informer has confirmed stays."""
        if key in self.assumed:
            self.assumed.discard(key)
            self._remove(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    def _place(self, pod: PodInfo) -> None:
        node = self.nodes.get(pod.node_name)
        if node is None:
            node = self.nodes[pod.node_name] = NodeInfo(pod.node_name)  # the Node object is not seen yet
        node.add_pod(pod)
        self.pods[pod.key] = pod
        self.by_namespace.setdefault(pod.namespace, {})[pod.key] = pod
        if pod.has_pod_terms:
            self.affinity_pods[pod.key] = pod
        if pod.anti_affinity:
            self.anti_pods[pod.key] = pod

    def _remove(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        node = self.nodes.get(pod.node_name)
        if node is not None:
            node.remove_pod(key)
            if node.node is None and not node.pods:
                del self.nodes[pod.node_name]
        namespace = self.by_namespace.get(pod.namespace)
        if namespace is not None:
            namespace.pop(key, None)
            if not namespace:
                del self.by_namespace[pod.namespace]
        self.affinity_pods.pop(key, None)
        self.anti_pods.pop(key, None)
        return pod

    # ------------------------------------------------------------------ views for the filters and scores
    def with_nodes(self, pods: Iterable[PodInfo]) -> Iterator[tuple[PodInfo, NodeInfo]]:
        for pod in pods:
            node = self.nodes.get(pod.node_name)
            if node is not None:
                yield pod, node

    def candidates_for(self, pod: PodInfo) -> Iterable[PodInfo]:
        """The pods that the pod's own affinity terms could select (only its terms' namespaces
        unless a term has a namespaceSelector)."""
        terms = [*pod.affinity, *pod.anti_affinity, *(t for _, t in pod.preferred_affinity),
                 *(t for _, t in pod.preferred_anti_affinity)]
        if any(t.namespace_selector is not None for t in terms):
            return list(self.pods.values())
        namespaces = set().union(*(t.namespaces for t in terms)) if terms else set()
        return [p for ns in sorted(namespaces) for p in self.by_namespace.get(ns, {}).values()]
