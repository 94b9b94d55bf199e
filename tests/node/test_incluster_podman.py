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
import sysconfig
import uuid
from pathlib import Path
from typing import Any

import pytest

from raftkube.client import ApiClient
from raftkube.node.memory_volumes import is_tmpfs
from raftkube.pki import KUBERNETES_SERVICE_IP
from tests.e2e.cluster import E2ECluster
from tests.e2e.podman_node import PYTHON, WAIT, PodmanNode, podman_node_fixtures, privileged_namespace, python_mounts

from .podman_fixtures import IMAGE
from .test_agent_support import eventually

pytestmark = [pytest.mark.podman, pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.timeout(300)]
Obj = dict[str, Any]
NODE_NAME = f"incluster-{uuid.uuid4().hex[:6]}"
POD, NS, SA = ("v1", "Pod"), ("v1", "Namespace"), ("v1", "ServiceAccount")
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


# the agent runs as its node (system:node:<name>, a joined worker's token): the Node authorizer and
# NodeRestriction let it ask for tokens of the pods bound to it; no pod network (the pods are hostNetwork ones)
plane, service, client, node = podman_node_fixtures(NODE_NAME, "127.98.241.0/24", pod_network=False)


def client_pod(name: str, account: str, out_dir: Path) -> Obj:
    volumes, mounts = python_mounts()
    volumes += [{"name": "site", "hostPath": {"path": SITE_PACKAGES, "type": "Directory"}},
                {"name": "out", "hostPath": {"path": str(out_dir), "type": "DirectoryOrCreate"}}]
    mounts += [{"name": "site", "mountPath": SITE_PACKAGES, "readOnly": True}, {"name": "out", "mountPath": "/out"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE_NAME, "hostNetwork": True, "restartPolicy": "Never",
                     "serviceAccountName": account, "terminationGracePeriodSeconds": 1, "volumes": volumes,
                     "containers": [{"name": "client", "image": IMAGE, "command": [PYTHON, "-c", SCRIPT, name],
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
        plane: E2ECluster, client: ApiClient, node: PodmanNode, tmp_path: Path) -> None:
    ns = f"incluster-{uuid.uuid4().hex[:6]}"
    await client.create(NS, privileged_namespace(ns))
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
    assert node.agent.ctx is not None
    assert is_tmpfs(os.path.join(node.agent.ctx.config.pod_dir(created["metadata"]["uid"]), "volumes", volume))
    # without a binding the same call is refused
    await client.create(SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}}, ns)
    refused = await run_to_completion(client, client_pod("nobody", "nobody", out_dir), ns, out_dir)
    assert refused.get("status") == 403 and "pods" not in refused, {k: refused.get(k) for k in ("status", "error")}
