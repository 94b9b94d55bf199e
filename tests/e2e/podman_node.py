"""A Podman worker node for the Podman e2e tests (no tests here): an in-process agent running as its node
(system:node:<name>, a joined worker's token) with the Podman runtime and the service proxy, optionally the
pod network and cluster DNS (raftkube.node.networking) with the proxy binding the Service and endpoint
aliases; `podman_node_fixtures` gives a test module its module-scoped `plane, service, client, node`; and the
read-only hostPath mounts that let a busybox-image pod run the host's Python."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from raftkube.api.cluster_tokens import new_node_token, node_token_secret
from raftkube.client import ApiClient
from raftkube.node.agent import Agent
from raftkube.node.memory_volumes import unmount_under
from raftkube.node.networking import NodeNetworking
from raftkube.node.pod_network import node_network
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService, podman_env
from raftkube.node.service_proxy import ServiceProxy
from raftkube.pki import KUBERNETES_SERVICE_IP
from tests.e2e.cluster import E2ECluster
from tests.node.podman_fixtures import podman_service
from tests.node.test_agent_support import eventually, fast_config

Obj = dict[str, Any]
WAIT = 90.0
PYTHON = os.path.realpath(sys.executable)
PYTHON_HOME = str(Path(PYTHON).parents[1])


def python_mounts() -> tuple[list[Obj], list[Obj]]:
    """(volumes, volumeMounts) that make the host's Python runnable in the busybox image."""
    read_only = [("python", PYTHON_HOME), ("usr", "/usr"), ("lib", "/lib"), ("lib64", "/lib64")]
    volumes = [{"name": n, "hostPath": {"path": p, "type": "Directory"}} for n, p in read_only]
    return volumes, [{"name": n, "mountPath": p, "readOnly": True} for n, p in read_only]


def privileged_namespace(name: str) -> Obj:
    """A namespace whose pods may use hostPath volumes (Pod Security)."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}


@contextlib.contextmanager
def podman_for(run_dir: Path, node: str) -> Iterator[PodmanService]:
    """A private Podman service; at the end the node's pods and its pod network are removed."""
    with podman_service(run_dir, [node]) as svc:
        yield svc
    subprocess.run(["podman", "network", "rm", "-f", node_network(node).name], env=podman_env(svc.conf_path),
                   capture_output=True, timeout=60)


@dataclass(frozen=True)
class PodmanNode:
    """A running node: its agent, its service proxy and (with the pod network) its networking and DNS."""

    agent: Agent
    proxy: ServiceProxy
    networking: NodeNetworking | None


@contextlib.asynccontextmanager
async def podman_node(plane: E2ECluster, client: ApiClient, svc: PodmanService, data_dir: Path, node: str,
                      pod_cidr: str, *, pod_network: bool = True) -> AsyncIterator[PodmanNode]:
    """The node, ready once its proxy serves the `kubernetes` Service; the NodeRestriction-bound identity lets
    it ask for the tokens of the pods bound to it. At the end the pods' tmpfs volumes are unmounted (a stopped
    agent leaves its pods running)."""
    token = new_node_token()
    await client.create(("v1", "Secret"), node_token_secret(node, token), "kube-system")
    node_client = ApiClient(plane.plane.api_urls, token, str(plane.ca_cert), timeout=10.0)
    await eventually(lambda: node_client.get(("v1", "Service"), "kubernetes", "default"), WAIT, "the node token known")
    runtime = PodmanRuntime(node, socket_path=str(svc.socket_path))
    config = fast_config(node, data_dir, pod_cidr=pod_cidr)
    networking = NodeNetworking(config, node_client, runtime, pod_network=True) if pod_network else None
    agent = Agent(config, runtime, node_client)
    proxy = (ServiceProxy(node_client) if networking is None else
             ServiceProxy(node_client, alias=networking.alias, endpoint_alias=networking.endpoint_alias))
    if networking is not None:
        await networking.start()
    await agent.start()
    await proxy.start()
    try:
        await proxy.wait_for(lambda table: any(listener.address == KUBERNETES_SERVICE_IP and listener.port == 443
                                               and backends for listener, backends in table.items()), timeout=WAIT)
        yield PodmanNode(agent, proxy, networking)
    finally:
        await proxy.stop()
        await agent.stop()
        if networking is not None:
            await networking.stop()
        await runtime.close()
        await node_client.close()
        unmount_under(str(data_dir))


def podman_node_fixtures(node: str, pod_cidr: str, *, pod_network: bool = True) -> tuple[Callable[..., Any], ...]:
    """A test module's module-scoped fixtures `plane` (a 3-replica control plane with controllers), `service`
    (its Podman service), `client` (the admin's ApiClient) and `node` (a PodmanNode named `node` with pod CIDR
    `pod_cidr`, unique per module). Use as `plane, service, client, node = podman_node_fixtures(...)`."""

    @pytest.fixture(scope="module", name="plane")
    def plane_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
        cluster = E2ECluster(tmp_path_factory.mktemp(f"{node}-plane"), controllers=True).start()
        try:
            yield cluster
        finally:
            cluster.close()

    @pytest.fixture(scope="module", name="service")
    def service_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
        with podman_for(tmp_path_factory.mktemp(f"{node}-podman"), node) as svc:
            yield svc

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="client")
    async def client_fixture(plane: E2ECluster) -> AsyncIterator[ApiClient]:
        api = ApiClient(plane.plane.api_urls, plane.token, str(plane.ca_cert), timeout=10.0)
        try:
            yield api
        finally:
            await api.close()

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="node")
    async def node_fixture(plane: E2ECluster, client: ApiClient, service: PodmanService,
                           tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PodmanNode]:
        async with podman_node(plane, client, service, tmp_path_factory.mktemp(f"{node}-agent"), node, pod_cidr,
                               pod_network=pod_network) as running:
            yield running

    return plane_fixture, service_fixture, client_fixture, node_fixture
