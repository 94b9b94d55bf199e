"""A pod on real Podman uses its ServiceAccount with the official Python client: `load_incluster_config()`
reads the projected token, ca.crt and namespace at /var/run/secrets/kubernetes.io/serviceaccount and
KUBERNETES_SERVICE_HOST/PORT, reaches the `kubernetes` ClusterIP (127.96.0.1:443) through the agent's service
proxy, verifies the API's certificate (it names that IP) and lists the pods of its namespace.

A 3-replica control plane with controllers (`raftkube server` processes), an in-process agent with the Podman
runtime and its service proxy, running as its node (it asks for the pod's token with its node identity).
Bridge pods cannot reach the host's 127.0.0.0/8 (../shared/PODMAN.md), so the pod is a hostNetwork one, in a
namespace labelled privileged for Pod Security; it runs the host's Python and this venv's site-packages (the
kubernetes client) from read-only hostPath mounts in the busybox image, and writes what it saw to a hostPath
directory.

RBAC: the pod's ServiceAccount is bound to `view` in its namespace first; a second pod, whose ServiceAccount
has no binding, gets 403 for the same call.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from raftkube.api.cluster_tokens import new_node_token, node_token_secret
from raftkube.client import ApiClient
from raftkube.node.agent import Agent
from raftkube.node.memory_volumes import is_tmpfs, unmount_under
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService
from raftkube.node.service_proxy import ServiceProxy
from raftkube.pki import KUBERNETES_SERVICE_IP
from tests.e2e.cluster import E2ECluster

from .podman_fixtures import IMAGE, podman_service
from .test_agent_support import eventually, fast_config

pytestmark = [pytest.mark.podman, pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.timeout(300)]
Obj = dict[str, Any]
NODE_NAME = f"incluster-{uuid.uuid4().hex[:6]}"
WAIT = 90.0
POD, NS, SA = ("v1", "Pod"), ("v1", "Namespace"), ("v1", "ServiceAccount")
PYTHON_HOME = str(Path(os.path.realpath(sys.executable)).parents[1])  # e.g. /root/.pyenv/versions/3.11.7
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
SCRIPT = """
import json, os, sys
out = {"env": {k: v for k, v in os.environ.items() if k.startswith("KUBERNETES_")}}
base = "/var/run/secrets/kubernetes.io/serviceaccount"
out["files"] = {n: oct(os.stat(os.path.join(base, n)).st_mode & 0o777) for n in ("token", "ca.crt", "namespace")}
out["namespace"] = open(os.path.join(base, "namespace")).read()
out["ca"] = open(os.path.join(base, "ca.crt")).read()
try:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    config.load_incluster_config()
    try:
        pods = client.CoreV1Api().list_namespaced_pod(out["namespace"])
        out["pods"] = sorted(p.metadata.name for p in pods.items)
    except ApiException as err:
        out["status"] = err.status

except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
with open("/out/" + sys.argv[1] + ".json", "w") as f:
    json.dump(out, f)
"""


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    cluster = E2ECluster(tmp_path_factory.mktemp("incluster-plane"), controllers=True).start()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with podman_service(tmp_path_factory.mktemp("podman"), [NODE_NAME]) as svc:
        yield svc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(plane: E2ECluster) -> AsyncIterator[ApiClient]:
    api = ApiClient(plane.plane.api_urls, plane.token, str(plane.ca_cert), timeout=10.0)
    try:
        yield api
    finally:
        await api.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(plane: E2ECluster, client: ApiClient, service: PodmanService,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Agent]:
    """The agent runs as its node (system:node:<name>, a joined worker's token): the Node authorizer and
    NodeRestriction let it ask for tokens of the pods bound to it."""
    token = new_node_token()
    await client.create(("v1", "Secret"), node_token_secret(NODE_NAME, token), "kube-system")
    node_client = ApiClient(plane.plane.api_urls, token, str(plane.ca_cert), timeout=10.0)
    await eventually(lambda: node_client.get(("v1", "Service"), "kubernetes", "default"), WAIT, "the node token known")
    runtime = PodmanRuntime(NODE_NAME, socket_path=str(service.socket_path))
    data_dir = tmp_path_factory.mktemp("agent")
    agent = Agent(fast_config(NODE_NAME, data_dir, pod_cidr="127.98.241.0/24"), runtime,
                  node_client)
    proxy = ServiceProxy(node_client)
    await agent.start()
    await proxy.start()
    try:
        await proxy.wait_for(lambda table: any(listener.address == KUBERNETES_SERVICE_IP and listener.port == 443
                                               and backends for listener, backends in table.items()), timeout=WAIT)
        yield agent
    finally:
        await proxy.stop()
        await agent.stop()
        await runtime.close()
        await node_client.close()
        unmount_under(str(data_dir))  # the pods' tmpfs volumes (a stopped agent leaves its pods running)


def client_pod(name: str, account: str, out_dir: Path) -> Obj:
    read_only = [("python", PYTHON_HOME), ("usr", "/usr"), ("lib", "/lib"), ("lib64", "/lib64"),
                 ("site", SITE_PACKAGES)]
    volumes: list[Obj] = [{"name": n, "hostPath": {"path": p, "type": "Directory"}} for n, p in read_only]
    volumes.append({"name": "out", "hostPath": {"path": str(out_dir), "type": "DirectoryOrCreate"}})
    mounts = [{"name": n, "mountPath": p, "readOnly": True} for n, p in read_only]
    mounts.append({"name": "out", "mountPath": "/out"})
    python = str(Path(PYTHON_HOME) / "bin" / Path(os.path.realpath(sys.executable)).name)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE_NAME, "hostNetwork": True, "restartPolicy": "Never",
                     "serviceAccountName": account, "terminationGracePeriodSeconds": 1, "volumes": volumes,
                     "containers": [{"name": "client", "image": IMAGE, "command": [python, "-c", SCRIPT, name],
                                     "env": [{"name": "PYTHONPATH", "value": SITE_PACKAGES}],
                                     "volumeMounts": mounts}]}}


async def run_to_completion(client: ApiClient, body: Obj, ns: str, out_dir: Path) -> Obj:
    await client.create(POD, body, ns)
    name = body["metadata"]["name"]

    async def finished() -> Obj | None:
        phase = ((await client.get(POD, name, ns)).get("status") or {}).get("phase")
        return {"phase": phase} if phase in ("Succeeded", "Failed") else None
    done = await eventually(finished, WAIT, f"pod {name} finished")
    result = out_dir / f"{name}.json"
    assert result.exists(), f"pod {name} ended {done['phase']} without writing its result"
    return json.loads(result.read_text())


async def test_a_pod_lists_its_namespace_with_load_incluster_config(
        plane: E2ECluster, client: ApiClient, node: Agent, tmp_path: Path) -> None:
    ns = f"incluster-{uuid.uuid4().hex[:6]}"
    await client.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": ns, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}})
    await client.create(SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}, ns)
    await client.create(("rbac.authorization.k8s.io/v1", "RoleBinding"), {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]}, ns)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    seen = await run_to_completion(client, client_pod("reader", "reader", out_dir), ns, out_dir)
    assert "error" not in seen and "status" not in seen, {k: seen.get(k) for k in ("error", "status")}
    assert seen["pods"] == ["reader"]
    assert seen["namespace"] == ns and seen["ca"] == plane.ca_cert.read_text()
    assert seen["files"] == {"token": "0o644", "ca.crt": "0o644", "namespace": "0o644"}
    assert seen["env"]["KUBERNETES_SERVICE_HOST"] == KUBERNETES_SERVICE_IP
    assert seen["env"]["KUBERNETES_SERVICE_PORT"] == "443"
    assert seen["env"]["KUBERNETES_PORT_443_TCP"] == f"tcp://{KUBERNETES_SERVICE_IP}:443"
    created = await client.get(POD, "reader", ns)
    volume = next(v["name"] for v in created["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    assert node.ctx is not None
    assert is_tmpfs(os.path.join(node.ctx.config.pod_dir(created["metadata"]["uid"]), "volumes", volume))
    # without a binding the same call is refused
    await client.create(SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}}, ns)
    refused = await run_to_completion(client, client_pod("nobody", "nobody", out_dir), ns, out_dir)
    assert refused.get("status") == 403 and "pods" not in refused, {k: refused.get(k) for k in ("status", "error")}
