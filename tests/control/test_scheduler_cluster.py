"""The scheduler in a real 3-replica control plane: binds, Unschedulable, anti-affinity, taints.

Nodes are fake Node objects (Ready, with allocatable) created by the tests, with node Leases
the test keeps renewing (else the node lifecycle controller would find them unreachable);
each test labels its nodes and selects them with a nodeSelector, and deletes them
afterwards, so the tests do not see each other's nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from raftkube.client import ApiClient, ApiError
from raftkube.control.leader_election import micro_now
from raftkube.local.control_plane import LocalControlPlane

pytestmark = pytest.mark.cluster
POD, NODE, RS, EVENT = ("v1", "Pod"), ("v1", "Node"), ("apps/v1", "ReplicaSet"), ("v1", "Event")
LEASE = ("coordination.k8s.io/v1", "Lease")
TEST_LABEL = "raftkube.io/test"
T = TypeVar("T")


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("scheduler")))
    try:
        cluster.start(timeout=60)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def api(plane: LocalControlPlane) -> AsyncIterator[ApiClient]:
    client = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=10)
    await eventually(lambda: client.get(("v1", "Namespace"), "default"), "the API answers", timeout=60)
    yield client
    await client.close()


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 30.0) -> T:
    """Poll `check` (errors count as not yet) until it returns something truthy; bounded."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = await check()
            if value:
                return value
            last = value
        except ApiError as err:
            last = err
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


class Scenario:
    """A test's namespace and nodes, removed afterwards."""

    def __init__(self, api: ApiClient, name: str) -> None:
        self.api, self.name = api, name
        self.nodes: list[str] = []
        self.leases: dict[str, dict[str, Any]] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Scenario:
        await self.api.create(("v1", "Namespace"), {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": self.name}})
        self._heartbeat = asyncio.create_task(self.heartbeats())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        for node in self.nodes:
            for ref, namespace in ((NODE, None), (LEASE, "kube-node-lease")):
                try:
                    await self.api.delete(ref, node, namespace)
                except ApiError:
                    pass

    async def heartbeats(self) -> None:
        """Renew the nodes' Leases, as their agents would (the node lifecycle controller watches them)."""
        for _ in range(10_000):  # bounded; cancelled when the scenario ends
            await asyncio.sleep(1.0)
            for name, lease in list(self.leases.items()):
                lease["spec"]["renewTime"] = micro_now()
                try:
                    self.leases[name] = await self.api.update(LEASE, lease, "kube-node-lease")
                except ApiError:  # a conflict or a slow server: start from the stored Lease next time
                    with contextlib.suppress(ApiError):
                        self.leases[name] = await self.api.get(LEASE, name, "kube-node-lease")

    async def node(self, suffix: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
                   taints: list[dict[str, str]] | None = None) -> str:
        name = f"{self.name}-{suffix}"
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, TEST_LABEL: self.name}},
            "spec": {"taints": taints} if taints else {},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                       "capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}
        await self.api.create(NODE, body)
        self.nodes.append(name)
        self.leases[name] = await self.api.create(LEASE, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_now()}},
            "kube-node-lease")
        return name

    def pod_spec(self, cpu: str = "100m", **extra: Any) -> dict[str, Any]:
        return {"nodeSelector": {TEST_LABEL: self.name},
                "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                                "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}], **extra}

    async def pod(self, name: str, cpu: str = "100m", **extra: Any) -> dict[str, Any]:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": self.name},
                "spec": self.pod_spec(cpu, **extra)}
        return await self.api.create(POD, body, self.name)

    async def bound_to(self, name: str, timeout: float = 30.0) -> str:
        async def check() -> str | None:
            pod = await self.api.get(POD, name, self.name)
            return pod["spec"].get("nodeName")
        return await eventually(check, f"pod {name} bound", timeout)

    async def condition(self, name: str, reason: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            pod = await self.api.get(POD, name, self.name)
            for cond in pod.get("status", {}).get("conditions") or []:
                if cond["type"] == "PodScheduled" and cond.get("reason") == reason:
                    return cond
            return None
        return await eventually(check, f"pod {name} PodScheduled reason {reason}")

    async def event(self, pod: str, reason: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            events = await self.api.list(EVENT, self.name)
            return next((e for e in events["items"] if e["involvedObject"].get("name") == pod
                         and e.get("reason") == reason), None)
        return await eventually(check, f"event {reason} for {pod}")


async def test_pods_get_bound_with_a_scheduled_event(api: ApiClient) -> None:
    async with Scenario(api, "bind") as s:
        nodes = {await s.node(str(i)) for i in range(3)}
        for i in range(6):
            await s.pod(f"web-{i}")
        placed = [await s.bound_to(f"web-{i}") for i in range(6)]
        assert set(placed) <= nodes
        assert len(set(placed)) == 3  # least-allocated spreads them over the three equal nodes
        pod = await api.get(POD, "web-0", "bind")
        scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert scheduled and scheduled[0]["status"] == "True"
        event = await s.event("web-0", "Scheduled")
        assert event["message"] == f"Successfully assigned bind/web-0 to {placed[0]}"
        assert event["source"]["component"] == "default-scheduler"


async def test_a_pod_too_big_waits_unschedulable_until_a_big_node_comes(api: ApiClient) -> None:
    async with Scenario(api, "big") as s:
        await s.node("small-0", cpu="1")
        await s.node("small-1", cpu="1")
        await s.pod("huge", cpu="6")
        cond = await s.condition("huge", "Unschedulable")
        assert cond["status"] == "False"
        assert cond["message"].startswith("0/")
        assert "2 Insufficient cpu" in cond["message"]
        event = await s.event("huge", "FailedScheduling")
        assert event["type"] == "Warning" and "Insufficient cpu" in event["message"]
        big = await s.node("big", cpu="8")
        assert await s.bound_to("huge") == big


async def test_required_anti_affinity_spreads_replicas_over_nodes(api: ApiClient) -> None:
    async with Scenario(api, "anti") as s:
        nodes = {await s.node(str(i)) for i in range(3)}
        labels = {"app": "spread"}
        anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}]}}
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "spread", "namespace": "anti"},
              "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                       "template": {"metadata": {"labels": labels}, "spec": s.pod_spec(affinity=anti)}}}
        await api.create(RS, rs, "anti")

        async def placements(count: int) -> dict[str, str] | None:
            pods = (await api.list(POD, "anti"))["items"]
            bound = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")}
            return bound if len(bound) >= count else None
        bound = await eventually(lambda: placements(3), "3 replicas bound")
        assert sorted(bound.values()) == sorted(nodes)  # one per node
        await api.patch(RS, "spread", {"spec": {"replicas": 4}}, "anti")

        async def fourth() -> dict[str, Any] | None:
            pods = (await api.list(POD, "anti"))["items"]
            pending = [p for p in pods if not p["spec"].get("nodeName")]
            for cond in (pending[0].get("status", {}).get("conditions") or []) if pending else []:
                if cond["type"] == "PodScheduled" and cond.get("reason") == "Unschedulable":
                    return cond
            return None
        cond = await eventually(fourth, "the 4th replica unschedulable")
        assert "3 node(s) didn't match pod anti-affinity rules" in cond["message"]
        assert len(await eventually(lambda: placements(3), "still 3 bound")) == 3


async def test_a_taint_keeps_pods_off_a_node_unless_tolerated(api: ApiClient) -> None:
    async with Scenario(api, "taint") as s:
        tainted = await s.node("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
        plain = await s.node("plain")
        for i in range(4):
            await s.pod(f"plain-{i}")
        assert {await s.bound_to(f"plain-{i}") for i in range(4)} == {plain}
        toleration = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
        await s.pod("tolerant", tolerations=toleration,
                    affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": [tainted]}]}]}}})
        assert await s.bound_to("tolerant") == tainted
        await s.pod("intolerant", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [tainted]}]}]}}})
        cond = await s.condition("intolerant", "Unschedulable")
        assert "1 node(s) had untolerated taint {dedicated: gpu}" in cond["message"]
        assert "1 node(s) didn't match Pod's node affinity/selector" in cond["message"]
