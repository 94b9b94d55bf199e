"""HorizontalPodAutoscaler end to end: `kubectl autoscale` (kubectl 1.32 creates autoscaling/v1), `kubectl get
hpa` columns, and the controller scaling a Deployment on CPU usage injected into a hollow node's containers,
read through metrics.k8s.io from the agent's stats (three control-plane replicas with their controllers)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
import yaml

from raftkube.client import ApiClient
from raftkube.local.store_cluster import free_port
from raftkube.node.agent import Agent
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.pki import CertificateAuthority
from tests.e2e.cluster import E2ECluster, Kubectl, parse_table
from tests.node.test_agent_support import fast_config

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module")]
NODE_NAME = f"hpa-{uuid.uuid4().hex[:6]}"
POD, DEPLOY = ("v1", "Pod"), ("apps/v1", "Deployment")
WAIT = 120.0
Obj = dict[str, Any]
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
    "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
        "name": "app", "image": "busybox:1", "resources": {"requests": {"cpu": "100m", "memory": "16Mi"}}}]}}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("hpa-plane"), controllers=True).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(cluster: E2ECluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[
        tuple[ApiClient, HollowRuntime]]:
    """A hollow node (its containers' CPU usage is set by the test) serving stats to the API servers."""
    data_dir = tmp_path_factory.mktemp("agent")
    serving = CertificateAuthority.load(cluster.plane.pki_dir).issue(
        str(data_dir), "kubelet", f"system:node:{NODE_NAME}", ["system:nodes"], hosts=["127.0.0.1"], server=True)
    client = ApiClient(cluster.api_url(0), cluster.token, ca_file=str(cluster.ca_cert), timeout=10.0)
    runtime = HollowRuntime(NODE_NAME, HollowMachine())
    config = fast_config(NODE_NAME, data_dir, port=free_port(), stats_period=1.0, tls_cert=serving.cert,
                         tls_key=serving.key, client_ca_file=str(cluster.ca_cert))
    agent = Agent(config, runtime, client)
    await agent.start()
    try:
        yield client, runtime
    finally:
        await agent.stop()
        await client.close()


@pytest.fixture(scope="module")
def kubectl(cluster: E2ECluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config", 0))


async def run(kubectl: Kubectl, *args: str, input: str | None = None) -> Any:
    return await asyncio.to_thread(kubectl.run, *args, input=input, check=False)


async def busy_pods(client: ApiClient, runtime: HollowRuntime, ns: str, cores: float, seen: set[str]) -> int:
    """Give every running pod of the Deployment `cores` of CPU use; the number running."""
    pods = (await client.list(POD, ns, label_selector="app=web"))["items"]
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    for pod in running:
        uid = pod["metadata"]["uid"]
        if uid not in seen:
            runtime.set_usage(uid, "app", cores, 8 << 20)
            seen.add(uid)
    return len(running)


async def test_kubectl_autoscale_and_the_controller_scaling_on_cpu(
        node: tuple[ApiClient, HollowRuntime], kubectl: Kubectl, cluster: E2ECluster) -> None:
    client, runtime = node
    ns = f"hpa-{uuid.uuid4().hex[:6]}"
    cluster.create_namespace(ns)
    applied = await run(kubectl, "-n", ns, "apply", "-f", "-", input=yaml.safe_dump(DEPLOYMENT))
    assert applied.returncode == 0, applied.stderr
    made = await run(kubectl, "-n", ns, "autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=4")
    assert made.returncode == 0 and "horizontalpodautoscaler.autoscaling/web autoscaled" in made.stdout, made.stderr
    v1 = await run(kubectl, "-n", ns, "get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "json")
    as_v1 = json.loads(v1.stdout)
    assert as_v1["apiVersion"] == "autoscaling/v1" and as_v1["spec"]["targetCPUUtilizationPercentage"] == 50
    as_v2 = json.loads((await run(kubectl, "-n", ns, "get", "hpa", "web", "-o", "json")).stdout)
    assert as_v2["apiVersion"] == "autoscaling/v2"
    assert as_v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]
    table = await run(kubectl, "-n", ns, "get", "hpa")
    assert table.stdout.split("\n")[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                                                   "REPLICAS", "AGE"]
    row = parse_table(table.stdout)[0]
    assert (row["NAME"], row["REFERENCE"], row["MINPODS"], row["MAXPODS"]) == ("web", "Deployment/web", "1", "4")

    seen: set[str] = set()
    replicas = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:  # 80% of the request on every pod: 1 -> 2 -> 4 (capped by --max=4)
        replicas = await busy_pods(client, runtime, ns, 0.08, seen)
        deploy = await client.get(DEPLOY, "web", ns)
        if deploy["spec"]["replicas"] == 4 and replicas == 4:
            break
        await asyncio.sleep(0.5)
    if replicas != 4:
        pods = (await client.list(POD, ns))["items"]
        events = (await run(kubectl, "-n", ns, "get", "events")).stdout
        logs = "".join(f.read_text()[-2000:] for f in sorted((cluster.base_dir / "plane").glob("*.log")))
        raise AssertionError(f"the Deployment did not reach 4 running pods ({replicas}): {logs}\n"
                             f"{[(p['metadata']['name'], p.get('spec', {}).get('nodeName')) for p in pods]}"
                             f"\n{events}")
    hpa = await client.get(("autoscaling/v2", "HorizontalPodAutoscaler"), "web", ns)
    status = hpa["status"]
    assert status["desiredReplicas"] == 4 and status["currentMetrics"][0]["resource"]["current"][
        "averageUtilization"] >= 50
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons["ScalingActive"] == "ValidMetricFound"
    events = await run(kubectl, "-n", ns, "get", "events", "--field-selector", "reason=SuccessfulRescale")
    assert "New size: 2; reason: cpu resource utilization (percentage of request) above target" in events.stdout
    table = await run(kubectl, "-n", ns, "get", "hpa", "web")
    row = parse_table(table.stdout)[0]
    assert row["TARGETS"].startswith("cpu: ") and row["TARGETS"].endswith("%/50%"), row
    assert row["TARGETS"] != "cpu: <unknown>/50%"
