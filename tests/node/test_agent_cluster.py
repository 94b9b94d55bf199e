"""Two agents (hollow runtimes, one process) against a real 3-replica control plane with controllers
and the scheduler: a Deployment of 4 replicas becomes 4 Running+Ready pods on both nodes. Each agent
holds its own node's token (system:node:<name>), as a joined worker does, so everything it does
passes the Node authorizer and NodeRestriction."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from raftkube.client import ApiClient
from raftkube.local.control_plane import LocalControlPlane
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime

from .test_agent_support import NS, POD, eventually, running_agent, running_ready

pytestmark = pytest.mark.cluster
DEPLOYMENT, ENDPOINTS = ("apps/v1", "Deployment"), ("v1", "Endpoints")
NODE_TOKENS = {name: secrets.token_urlsafe(24) for name in ("w1", "w2")}


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("agents")), controllers=True)
    for name, token in NODE_TOKENS.items():
        cluster.add_token(token, f"system:node:{name}", f"node-{name}", ("system:nodes",))
    try:
        cluster.start(timeout=60)
        yield cluster
    finally:
        cluster.close()


@asynccontextmanager
async def node_client(plane: LocalControlPlane, node: str) -> AsyncIterator[ApiClient]:
    client = ApiClient(plane.api_urls, NODE_TOKENS[node], plane.ca_file, timeout=10.0)
    try:
        yield client
    finally:
        await client.close()


async def test_deployment_runs_on_two_agents(plane: LocalControlPlane, tmp_path: Path) -> None:
    client = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=10.0)
    machine = HollowMachine()
    try:
        await eventually(lambda: client.get(NS, "kube-node-lease"), 60, "API ready")
        async with node_client(plane, "w1") as w1, node_client(plane, "w2") as w2, \
                running_agent(w1, "w1", tmp_path / "w1", HollowRuntime("w1", machine)), \
                running_agent(w2, "w2", tmp_path / "w2", HollowRuntime("w2", machine)):
            labels = {"app": "web"}
            await client.create(DEPLOYMENT, {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 4, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                             {"name": "app", "image": "busybox:1", "ports": [{"containerPort": 8080}],
                              "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}]}}}},
                "default")

            async def four_ready() -> list[dict] | None:
                pods = [p for p in (await client.list(POD, "default", label_selector="app=web"))["items"]
                        if running_ready(p)]
                return pods if len(pods) == 4 else None
            pods = await eventually(four_ready, 60, "4 Running+Ready pods")
            nodes = {p["spec"]["nodeName"] for p in pods}
            assert nodes == {"w1", "w2"}, nodes
            ips = {p["status"]["podIP"] for p in pods}
            assert len(ips) == 4 and all(ip.startswith("127.98.") for ip in ips)
            assert len(machine.sandboxes) == 4

            async def endpoints_ready() -> bool:
                deployment = await client.get(DEPLOYMENT, "web", "default")
                return (deployment.get("status") or {}).get("readyReplicas") == 4
            await eventually(endpoints_ready, 30, "Deployment readyReplicas 4")
    finally:
        await client.close()
