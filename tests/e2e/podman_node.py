"""A Podman worker node for the networking e2e tests (no tests here): an in-process agent running as its node
(system:node:<name>, a joined worker's token) with the Podman runtime, the pod network and cluster DNS
(raftkube.node.networking) and the service proxy with the Service and endpoint aliases; and the read-only
hostPath mounts that let a busybox-image pod run the host's Python."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from raftkube.api.cluster_tokens import new_node_token, node_token_secret
from raftkube.client import ApiClient
from raftkube.node.agent import Agent
from raftkube.node.networking import NodeNetworking
from raftkube.node.pod_network import node_network
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService, podman_env
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


@contextlib.asynccontextmanager
async def podman_node(plane: E2ECluster, client: ApiClient, svc: PodmanService, data_dir: Path, node: str,
                      pod_cidr: str) -> AsyncIterator[NodeNetworking]:
    from raftkube.node.service_proxy import ServiceProxy

    token = new_node_token()
    await client.create(("v1", "Secret"), node_token_secret(node, token), "kube-system")
    node_client = ApiClient(plane.plane.api_urls, token, str(plane.ca_cert), timeout=10.0)
    await eventually(lambda: node_client.get(("v1", "Service"), "kubernetes", "default"), WAIT, "the node token known")
    runtime = PodmanRuntime(node, socket_path=str(svc.socket_path))
    config = fast_config(node, data_dir, pod_cidr=pod_cidr)
    networking = NodeNetworking(config, node_client, runtime, pod_network=True)
    agent = Agent(config, runtime, node_client)
    proxy = ServiceProxy(node_client, alias=networking.alias, endpoint_alias=networking.endpoint_alias)
    await networking.start()
    await agent.start()
    await proxy.start()
    try:
        yield networking
    finally:
        await proxy.stop()
        await agent.stop()
        await networking.stop()
        await runtime.close()
        await node_client.close()
