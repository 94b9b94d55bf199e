"""Controller-manager failover on a real 3-replica control plane (tests/control/failover/conftest.py): the pods
of a node that stops renewing its Lease are replaced on other nodes."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from raftkube.control.podutil import is_ready
from raftkube.local.control_plane import LocalControlPlane
from tests.control.failover.cluster_access import (
    NODE,
    RS,
    V1,
    Obj,
    client_for,
    eventually,
)
from tests.control.failover.observers import (
    PodWatcher,
    node_farm,
    pod_template,
)

pytestmark = pytest.mark.timeout(150)


@pytest.mark.cluster
async def test_dead_node_pods_are_replaced_on_other_nodes(plane: LocalControlPlane) -> None:
    ns, replicas = "deadnode", 6
    api = client_for(plane)
    watcher = PodWatcher(api, ns)
    try:
        async with node_farm(api, ns, 3) as (nodes, _):
            await watcher.start()
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "svc"},
                  "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "svc"}},
                           "template": pod_template(ns, "svc", V1)}}
            await api.create(RS, rs, ns)

            async def all_ready() -> list[Obj] | None:
                pods = watcher.active()
                return pods if len(pods) == replicas and all(is_ready(p) for p in pods) else None
            pods = await eventually(all_ready, f"{replicas} pods running and ready")
            watcher.bounds = (replicas, 0)  # the ReplicaSet never overshoots while it replaces pods
            per_node = Counter(p["spec"]["nodeName"] for p in pods)
            dead, _ = per_node.most_common(1)[0]
            lost = {p["metadata"]["uid"] for p in pods if p["spec"]["nodeName"] == dead}
            nodes.stop_renewing(dead)
            stopped_at = time.monotonic()

            async def unreachable() -> bool:
                node = await api.get(NODE, dead)
                ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
                return ready["status"] == "Unknown" and any(
                    t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints") or [])
            await eventually(unreachable, f"node {dead} Unknown and tainted", timeout=60)
            not_ready_at = time.monotonic()

            async def evicted() -> bool:
                return not any(p["metadata"]["uid"] in lost for p in watcher.informer.cache.list())
            await eventually(evicted, f"the pods of {dead} deleted", timeout=60)
            evicted_at = time.monotonic()

            async def replaced() -> list[Obj] | None:
                pods = await all_ready()
                return pods if pods and not any(p["metadata"]["uid"] in lost for p in pods) else None
            fresh = await eventually(replaced, "the lost pods replaced and ready", timeout=60)
            replaced_at = time.monotonic()
            print(f"\nnode {dead} ({len(lost)} of {replicas} pods) stopped renewing: NotReady after "
                  f"{not_ready_at - stopped_at:.2f}s, pods deleted after {evicted_at - stopped_at:.2f}s, "
                  f"replaced and ready after {replaced_at - stopped_at:.2f}s "
                  f"({replaced_at - evicted_at:.2f}s after the eviction)")
            assert len(fresh) == replicas and all(p["spec"]["nodeName"] != dead for p in fresh)
            assert {p["spec"]["nodeName"] for p in fresh} <= set(nodes.alive)
            assert watcher.samples and not watcher.violations, watcher.violations[:5]

            async def counted() -> bool:
                status = (await api.get(RS, "svc", ns)).get("status") or {}
                return status.get("replicas") == status.get("readyReplicas") == replicas
            await eventually(counted, "the ReplicaSet's status counting the replacements")
    finally:
        await watcher.informer.stop()
        await api.close()
