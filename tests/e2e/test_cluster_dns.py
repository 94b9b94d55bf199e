"""Cluster DNS on real Podman: a two-tier app applied with kubectl 1.32 whose front end finds its back end
by Service name.

A 3-replica control plane with controllers, one in-process agent (as its node) with the Podman runtime,
its pod network and cluster DNS (raftkube.node.networking) and its service proxy binding the Service
aliases. The back end is a Deployment of two busybox httpd pods on port 9000, each serving its own name,
behind Service `backend` port 8080 -> targetPort 9000. The front end is a bridge pod running the host's
Python (read-only hostPath mounts in the busybox image) that resolves `backend` through glibc with the
resolv.conf the agent gave it, fetches http://backend:8080/ several times (new connections: the proxy
spreads them over both back ends) and by its full name, and writes what it saw to a hostPath directory.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from raftkube.client import ApiClient
from raftkube.node.pod_dns import node_resolv_conf
from raftkube.node.pod_network import endpoint_alias, service_alias
from tests.e2e.cluster import E2ECluster, Kubectl
from tests.e2e.podman_node import PYTHON, WAIT, PodmanNode, podman_node_fixtures, privileged_namespace, python_mounts
from tests.node.podman_fixtures import IMAGE
from tests.node.test_agent_support import eventually

pytestmark = [pytest.mark.podman, pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.timeout(300)]
Obj = dict[str, Any]
NODE_NAME = f"dns-{uuid.uuid4().hex[:6]}"
FRONT_END = """
import json, socket, sys, time, urllib.request
out = {"resolv": open("/etc/resolv.conf").read(), "bodies": []}
deadline = time.time() + 60
while True:  # the back ends may still be starting
    try:
        out["address"] = socket.gethostbyname("backend")
        out["bodies"].append(urllib.request.urlopen("http://backend:8080/", timeout=5).read().decode().strip())
        break
    except OSError as exc:
        out["last_error"] = repr(exc)
        if time.time() > deadline:
            break
        time.sleep(0.5)
for _ in range(7):
    out["bodies"].append(urllib.request.urlopen("http://backend:8080/", timeout=5).read().decode().strip())
fqdn = "http://backend." + sys.argv[1] + ".svc.cluster.local:8080/"
out["fqdn"] = urllib.request.urlopen(fqdn, timeout=5).read().decode().strip()
out["db_address"] = socket.gethostbyname("db-0.db")  # a StatefulSet-style name through a headless Service
out["db"] = urllib.request.urlopen("http://db-0.db:9001/", timeout=5).read().decode().strip()
try:
    socket.gethostbyname("no-such-service")
except OSError as exc:
    out["missing"] = type(exc).__name__
with open("/out/front.json", "w") as f:
    json.dump(out, f)
print(json.dumps(out), flush=True)
"""


def manifests(ns: str, out_dir: Path) -> tuple[str, str]:
    """(the back ends and their Services, the front end)."""
    backend_cmd = 'echo "backend $(hostname)" > /tmp/index.html && exec httpd -f -p 9000 -h /tmp'
    backend = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "backend"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "backend"}},
                        "template": {"metadata": {"labels": {"app": "backend"}}, "spec": {
                            "nodeName": NODE_NAME, "terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "httpd", "image": IMAGE, "command": ["sh", "-c", backend_cmd],
                                            "ports": [{"name": "http", "containerPort": 9000}],
                                            "readinessProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 1}}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
               "spec": {"selector": {"app": "backend"}, "ports": [{"port": 8080, "targetPort": "http"}]}}
    volumes, mounts = python_mounts()
    volumes.append({"name": "out", "hostPath": {"path": str(out_dir), "type": "DirectoryOrCreate"}})
    mounts.append({"name": "out", "mountPath": "/out"})
    front = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "front"},
             "spec": {"nodeName": NODE_NAME, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                      "volumes": volumes,
                      "containers": [{"name": "front", "image": IMAGE, "command": [PYTHON, "-c", FRONT_END, ns],
                                      "volumeMounts": mounts}]}}
    db_cmd = 'echo "db $(hostname)" > /tmp/index.html && exec httpd -f -p 9001 -h /tmp'
    db = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db-0", "labels": {"app": "db"}},
          "spec": {"nodeName": NODE_NAME, "hostname": "db-0", "subdomain": "db", "terminationGracePeriodSeconds": 1,
                   "containers": [{"name": "db", "image": IMAGE, "command": ["sh", "-c", db_cmd],
                                   "ports": [{"containerPort": 9001}],
                                   "readinessProbe": {"tcpSocket": {"port": 9001}, "periodSeconds": 1}}]}}
    headless = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 9001}]}}
    return yaml.safe_dump_all([backend, service, db, headless]), yaml.safe_dump(front)


plane, service, client, node = podman_node_fixtures(NODE_NAME, "127.98.242.0/24")


async def test_a_front_end_reaches_its_back_end_by_service_name(plane: E2ECluster, client: ApiClient,
                                                                node: PodmanNode, tmp_path: Path) -> None:
    ns = f"dns-{uuid.uuid4().hex[:6]}"
    await client.create(("v1", "Namespace"), privileged_namespace(ns))
    k = Kubectl(plane.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    back, front = manifests(ns, out_dir)
    applied = k("apply", "-f", "-", input=back)
    assert applied.split("\n")[:4] == ["deployment.apps/backend created", "service/backend created",
                                       "pod/db-0 created", "service/db created"]

    async def ready_endpoints() -> bool | None:
        counts = [sum(len(s.get("addresses") or []) for s in (await client.get(("v1", "Endpoints"), name, ns)).get(
            "subsets") or []) for name in ("backend", "db")]
        return counts == [2, 1] or None

    await eventually(ready_endpoints, WAIT, "both back ends and db-0 in their Endpoints")
    assert k("apply", "-f", "-", input=front).strip() == "pod/front created"

    async def finished() -> str | None:
        phase = ((await client.get(("v1", "Pod"), "front", ns)).get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = await eventually(finished, WAIT, "the front end finished")
    result = out_dir / "front.json"
    assert result.exists(), f"the front end ended {phase} without writing what it saw"
    seen = json.loads(result.read_text())
    assert phase == "Succeeded", seen
    cluster_ip = k("get", "service", "backend", "-o", "jsonpath={.spec.clusterIP}")
    assert seen["address"] == service_alias(cluster_ip)  # the alias pods reach, for ClusterIP 127.96.x.y
    node_searches = "".join(" " + domain for domain in node_resolv_conf().searches)  # the kubelet appends them
    assert sorted(line for line in seen["resolv"].splitlines() if line) == [  # ClusterFirst, as the kubelet
        "nameserver 10.96.0.10", "options ndots:5",
        f"search {ns}.svc.cluster.local svc.cluster.local cluster.local{node_searches}"]
    backends = {p["metadata"]["name"] for p in (await client.list(("v1", "Pod"), ns, label_selector="app=backend"))[
        "items"]}
    assert {body.removeprefix("backend ") for body in seen["bodies"]} == backends  # 8080 -> 9000, both pods
    assert len(seen["bodies"]) == 8 and seen["fqdn"].startswith("backend ")
    assert seen["missing"] == "gaierror"
    db_ip = (await client.get(("v1", "Pod"), "db-0", ns))["status"]["podIP"]
    assert seen["db"] == "db db-0" and seen["db_address"] == endpoint_alias(db_ip)  # 10.98.c.d for 127.98.c.d
    assert node.networking is not None and node.networking.dns is not None and node.networking.dns.queries > 0
