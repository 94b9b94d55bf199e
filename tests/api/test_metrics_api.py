"""metrics.k8s.io/v1beta1 from the agents: the sampler's rates (injected clock), NodeMetrics and PodMetrics
from hollow agents through the API (values, selectors, 404 wording), discovery, and who may read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from raftkube.local.store_cluster import free_port
from raftkube.machinery.quantity import parse_quantity
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.node.runtime import ContainerState, SandboxState, Usage
from raftkube.node.stats import StatsSampler
from tests.api.inproc import TOKEN, InProcessAPI
from tests.node.test_agent_support import (
    POD,
    api,
    api_client,
    eventually,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)

__all__ = ["api"]
METRICS = "/apis/metrics.k8s.io/v1beta1"
RBAC = "rbac.authorization.k8s.io/v1"


class CountingRuntime:
    """Usage the test sets by hand: (cpu ns, memory) per container id and for the node."""

    def __init__(self) -> None:
        self.containers: dict[str, Usage] = {}
        self.node = Usage(0, 0)

    async def container_usage(self, ids: list[str]) -> dict[str, Usage]:
        return {i: self.containers[i] for i in ids if i in self.containers}

    async def node_usage(self) -> Usage:
        return self.node


async def test_sampler_rates_need_two_samples() -> None:
    runtime, now = CountingRuntime(), [100.0]
    box = SandboxState("uid-1", "sb", "default", "web", "127.0.0.1",
                       [ContainerState("app", "c1", "img", "running", started_at=1.0)])
    sampler = StatsSampler("n1", runtime, lambda: [box], period=10,  # type: ignore[arg-type]
                           clock=lambda: now[0], wall=lambda: 1e9)
    runtime.containers["c1"] = Usage(5_000_000_000, 1 << 20)
    runtime.node = Usage(10_000_000_000, 1 << 30)
    await sampler.sample()
    assert "cpu" not in sampler.summary()["node"] and sampler.summary()["pods"] == []
    now[0] += 10  # 10 s later: 2.5 CPU-seconds more in the container (0.25 cores), 10 more on the node (1 core)
    runtime.containers["c1"] = Usage(7_500_000_000, 3 << 20)
    runtime.node = Usage(20_000_000_000, 2 << 30)
    await sampler.sample()
    summary = sampler.summary()
    assert summary["node"]["cpu"]["usageNanoCores"] == 1_000_000_000
    assert summary["node"]["memory"]["workingSetBytes"] == 2 << 30 and summary["node"]["window"] == "10.000s"
    (pod,) = summary["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "default", "uid": "uid-1"}
    assert pod["containers"][0]["cpu"]["usageNanoCores"] == 250_000_000
    assert pod["containers"][0]["memory"]["workingSetBytes"] == 3 << 20


def usage(obj: dict[str, Any]) -> tuple[float, float]:
    return float(parse_quantity(obj["cpu"])), float(parse_quantity(obj["memory"]))


async def test_node_and_pod_metrics_from_hollow_agents(api: InProcessAPI, tmp_path: Path) -> None:
    node = unique("metrics")
    runtime = HollowRuntime(node, HollowMachine())
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime, port=free_port(),
                                                        stats_period=0.2, **api.agent_tls):  # type: ignore[attr-defined]
        ns = await namespace(client)
        for name, cores in (("busy", 0.5), ("idle", 0.05)):
            body = pod_body(name, node)
            body["metadata"]["labels"]["tier"] = "web"
            await client.create(POD, body, ns)
            pod = await wait_pod(client, name, ns, running_ready)
            runtime.set_usage(pod["metadata"]["uid"], "app", cores, (64 if name == "busy" else 8) << 20)
        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            async def pods_listed() -> list[dict[str, Any]] | None:
                items = (await http.get(f"{METRICS}/namespaces/{ns}/pods")).json()["items"]
                return items if len(items) == 2 else None
            items = {m["metadata"]["name"]: m for m in await eventually(pods_listed, 15, "two PodMetrics")}
            busy_cpu, busy_memory = usage(items["busy"]["containers"][0]["usage"])
            assert 0.4 < busy_cpu < 0.6 and busy_memory == 64 << 20
            assert items["busy"]["kind"] == "PodMetrics" and items["busy"]["metadata"]["labels"]["tier"] == "web"
            assert items["busy"]["containers"][0]["name"] == "app"
            assert usage(items["idle"]["containers"][0]["usage"])[0] < 0.1
            one = (await http.get(f"{METRICS}/namespaces/{ns}/pods/busy")).json()
            assert one["metadata"]["name"] == "busy" and one["window"].endswith("s")
            selected = (await http.get(f"{METRICS}/pods", params={"labelSelector": "app=idle"})).json()["items"]
            assert [m["metadata"]["name"] for m in selected] == ["idle"]
            node_metrics = (await http.get(f"{METRICS}/nodes/{node}")).json()
            assert node_metrics["kind"] == "NodeMetrics"
            node_cpu, node_memory = usage(node_metrics["usage"])
            assert 0.45 < node_cpu < 0.65 and node_memory == 72 << 20
            listed = (await http.get(f"{METRICS}/nodes")).json()
            assert node in [m["metadata"]["name"] for m in listed["items"]]
            missing = await http.get(f"{METRICS}/namespaces/{ns}/pods/ghost")
            assert missing.status_code == 404
            assert missing.json()["message"] == 'podmetrics.metrics.k8s.io "ghost" not found'
            gone = await http.get(f"{METRICS}/nodes/no-such-node")
            assert gone.json()["message"] == 'nodemetrics.metrics.k8s.io "no-such-node" not found'


async def test_metrics_discovery_and_authorization(api: InProcessAPI) -> None:
    viewer = unique("viewer")
    view_token, stranger_token = api.add_token(viewer), api.add_token(unique("stranger"))
    async with api_client(api) as client:
        ns = await namespace(client)
        await client.create((RBAC, "RoleBinding"), {
            "apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": "v"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": viewer, "apiGroup": "rbac.authorization.k8s.io"}]}, ns)
    async with httpx.AsyncClient(base_url=api.url) as http:
        resources = (await http.get(METRICS, headers={"Authorization": f"Bearer {TOKEN}"})).json()["resources"]
        assert {(r["name"], r["kind"], r["namespaced"], tuple(r["verbs"])) for r in resources} == {
            ("nodes", "NodeMetrics", False, ("get", "list")), ("pods", "PodMetrics", True, ("get", "list"))}
        groups = (await http.get("/apis", headers={"Authorization": f"Bearer {TOKEN}"})).json()["groups"]
        assert any(g["name"] == "metrics.k8s.io" for g in groups)

        async def viewer_reads() -> bool:
            answer = await http.get(f"{METRICS}/namespaces/{ns}/pods",
                                    headers={"Authorization": f"Bearer {view_token}"})
            return answer.status_code == 200
        await eventually(viewer_reads, 10, "the view role reading pod metrics (aggregated-metrics-reader)")
        refused = await http.get(f"{METRICS}/namespaces/{ns}/pods",
                                 headers={"Authorization": f"Bearer {stranger_token}"})
        assert refused.status_code == 403
        written = await http.post(f"{METRICS}/namespaces/{ns}/pods", headers={"Authorization": f"Bearer {TOKEN}"},
                                  json={})
        assert written.status_code == 405
