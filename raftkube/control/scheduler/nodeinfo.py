"""One node as the scheduler sees it: allocatable, labels, taints, and running totals of its pods.

Adding or removing a pod updates the requested totals, the non-zero totals used for scoring
and the per-owner pod counts in O(1), so no filter or score ever walks a node's pods.
"""

from __future__ import annotations

import zlib
from typing import Any

from ..daemonset_nodes import node_ready
from .info import CPU, EPHEMERAL, MEMORY, PODS, PodInfo, Taint, resource_list

Obj = dict[str, Any]
HARD_EFFECTS = ("NoSchedule", "NoExecute")


def scheduling_view(node: Obj | None) -> tuple[Any, ...]:
    """The parts of a Node that can change a scheduling decision (heartbeats are not among them)."""
    if node is None:
        return ()
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    return (meta.get("labels"), spec.get("unschedulable"), spec.get("taints"), status.get("allocatable"),
            node_ready(node))


class NodeInfo:
    __slots__ = ("name", "node", "labels", "ready", "unschedulable", "taints", "hard_taints", "soft_taints",
                 "alloc_cpu", "alloc_memory", "alloc_ephemeral", "alloc_pods", "alloc_scalars",
                 "pods", "req_cpu", "req_memory", "req_ephemeral", "req_scalars", "nz_cpu", "nz_memory", "owners",
                 "plain", "name_hash")

    def __init__(self, name: str, node: Obj | None = None) -> None:
        self.name = name
        self.node: Obj | None = None
        self.labels: dict[str, str] = {}
        self.ready = False
        self.unschedulable = False
        self.taints: tuple[Taint, ...] = ()
        self.hard_taints: tuple[Taint, ...] = ()  # NoSchedule, NoExecute
        self.soft_taints: tuple[Taint, ...] = ()  # PreferNoSchedule
        self.alloc_cpu = self.alloc_memory = self.alloc_ephemeral = self.alloc_pods = 0
        self.alloc_scalars: dict[str, int] = {}
        self.pods: dict[str, PodInfo] = {}
        self.req_cpu = self.req_memory = self.req_ephemeral = 0
        self.req_scalars: dict[str, int] = {}
        self.nz_cpu = self.nz_memory = 0
        self.owners: dict[str, int] = {}
        self.plain = False  # ready, not cordoned, no NoSchedule/NoExecute taint: only resources to check
        self.name_hash = zlib.crc32(name.encode())  # for the scores' tie-break
        if node is not None:
            self.set_node(node)

    @classmethod
    def of(cls, node: Obj, pods: list[PodInfo] | None = None) -> NodeInfo:
        """A NodeInfo for a Node object with `pods` on it (for tests and callers outside the cache)."""
        info = cls(str((node.get("metadata") or {}).get("name") or ""), node)
        for pod in pods or []:
            info.add_pod(pod)
        return info

    def set_node(self, node: Obj) -> None:
        meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        self.node = node
        self.labels = dict(meta.get("labels") or {})
        self.ready = node_ready(node)
        self.unschedulable = spec.get("unschedulable") is True
        self.taints = tuple(Taint.of(t) for t in spec.get("taints") or [])
        self.hard_taints = tuple(t for t in self.taints if t.effect in HARD_EFFECTS)
        self.soft_taints = tuple(t for t in self.taints if t.effect == "PreferNoSchedule")
        alloc = resource_list(status.get("allocatable"))
        self.alloc_cpu = alloc.pop(CPU, 0)
        self.alloc_memory = alloc.pop(MEMORY, 0)
        self.alloc_ephemeral = alloc.pop(EPHEMERAL, 0)
        self.alloc_pods = alloc.pop(PODS, 0)
        self.alloc_scalars = alloc
        self.plain = self.ready and not self.unschedulable and not self.hard_taints

    @property
    def usable(self) -> bool:
        """A Node object is known, Ready, and not cordoned."""
        return self.node is not None and self.ready and not self.unschedulable

    @property
    def pod_count(self) -> int:
        return len(self.pods)

    def add_pod(self, pod: PodInfo) -> None:
        if pod.key in self.pods:
            self.remove_pod(pod.key)
        self.pods[pod.key] = pod
        self.req_cpu += pod.cpu
        self.req_memory += pod.memory
        self.req_ephemeral += pod.ephemeral
        for name, value in pod.scalars.items():
            self.req_scalars[name] = self.req_scalars.get(name, 0) + value
        self.nz_cpu += pod.nz_cpu
        self.nz_memory += pod.nz_memory
        if pod.owner_uid:
            self.owners[pod.owner_uid] = self.owners.get(pod.owner_uid, 0) + 1

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        self.req_cpu -= pod.cpu
        self.req_memory -= pod.memory
        self.req_ephemeral -= pod.ephemeral
        for name, value in pod.scalars.items():
            self.req_scalars[name] = self.req_scalars.get(name, 0) - value
        self.nz_cpu -= pod.nz_cpu
        self.nz_memory -= pod.nz_memory
        if pod.owner_uid:
            left = self.owners.get(pod.owner_uid, 0) - 1
            if left > 0:
                self.owners[pod.owner_uid] = left
            else:
                self.owners.pop(pod.owner_uid, None)
        return pod
