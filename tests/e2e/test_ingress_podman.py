"""Ingress on real Podman: two Deployments of echo pods (the host's Python in the busybox image, on a Podman
node with its pod network) behind two Services, an Ingress applied with kubectl 1.32 routing two hosts and a
path, TLS from a kubernetes.io/tls Secret by SNI, and the ingress controller (in-process, as the admin)
proxying to the pods' endpoints, spreading requests over both replicas of one back end."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml

from raftkube.client import ApiClient
from raftkube.node.ingress_controller import IngressController, IngressSettings
from raftkube.pki import CertificateAuthority
from tests.e2e.cluster import E2ECluster, Kubectl
from tests.e2e.ingress_routes import INGRESS_CLASS, assert_listed, assert_routed
from tests.e2e.podman_node import PYTHON, WAIT, PodmanNode, podman_node_fixtures, privileged_namespace, python_mounts
from tests.node.podman_fixtures import IMAGE
from tests.node.test_agent_support import eventually

pytestmark = [pytest.mark.podman, pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.timeout(300)]
NODE_NAME = f"ing-{uuid.uuid4().hex[:6]}"
ECHO = """
import http.server, socket, sys
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = " ".join([sys.argv[1], self.path, "host=" + str(self.headers.get("Host")),
                         "proto=" + str(self.headers.get("X-Forwarded-Proto")), "pod=" + socket.gethostname()]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Echo).serve_forever()
"""


def app(name: str, replicas: int) -> list[dict[str, object]]:
    volumes, mounts = python_mounts()
    container = {"name": "echo", "image": IMAGE, "command": [PYTHON, "-c", ECHO, name], "volumeMounts": mounts,
                 "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                  "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                           "template": {"metadata": {"labels": {"app": name}}, "spec": {
                               "nodeName": NODE_NAME, "terminationGracePeriodSeconds": 1, "volumes": volumes,
                               "containers": [container]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": name}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}
    return [deployment, service]


INGRESS = INGRESS_CLASS + """---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site}
spec:
  tls: [{hosts: [shop.test], secretName: shop-tls}]
  rules:
  - host: shop.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {name: web}}}}
      - {path: /blog, pathType: Prefix, backend: {service: {name: blog, port: {number: 80}}}}
  - host: blog.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: blog, port: {number: 80}}}}
"""


plane, service, client, node = podman_node_fixtures(NODE_NAME, "127.98.243.0/24")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ingress(client: ApiClient, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IngressController]:
    controller = IngressController(client, IngressSettings(str(tmp_path_factory.mktemp("ingress")), http_port=0,
                                                           https_port=0))
    await controller.start()
    try:
        yield controller
    finally:
        await controller.stop()


async def answer(port: int, host: str, path: str) -> httpx.Response | None:
    """The response when it is a 200 (a routed request), else None."""
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    return response if response.status_code == 200 else None


async def test_an_ingress_routes_two_hosts_to_podman_pods(plane: E2ECluster, client: ApiClient, node: PodmanNode,
                                                         ingress: IngressController, tmp_path: Path) -> None:
    ns = f"ing-{uuid.uuid4().hex[:6]}"
    await client.create(("v1", "Namespace"), privileged_namespace(ns))
    k = Kubectl(plane.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))
    ca = CertificateAuthority.create(str(tmp_path / "ca"), "test CA")
    pair = ca.issue(str(tmp_path / "certs"), "shop", "shop.test", hosts=["shop.test"], server=True)
    k("create", "secret", "tls", "shop-tls", "--cert", pair.cert, "--key", pair.key)
    k("apply", "-f", "-", input=yaml.safe_dump_all(app("shop", 2) + app("blog", 1)))
    k("apply", "-f", "-", input=INGRESS)
    http = ingress.ports["http"]
    shop_pods = {p["metadata"]["name"] for p in (await client.list(("v1", "Pod"), ns, label_selector="app=shop"))[
        "items"]}
    assert len(shop_pods) == 2

    async def both_shop_pods() -> set[str] | None:  # new connections: the next ready endpoint each time
        seen = set()
        for _ in range(6):
            response = await answer(http, "shop.test", "/cart")
            if response is None:
                return None
            seen.add(assert_routed(response, "shop", "/cart", "shop.test").pod)
        return seen if seen == shop_pods else None

    await eventually(both_shop_pods, WAIT, "both shop pods answering through the Ingress")
    blog = await eventually(lambda: answer(http, "blog.test", "/post/1"), WAIT, "the blog pod answering")
    assert_routed(blog, "blog", "/post/1", "blog.test")
    assert_routed(await answer(http, "shop.test", "/blog/x"), "blog", "/blog/x", "shop.test")  # path routing
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca.cert_path), timeout=5) as https:
        secure = await https.get(f"https://127.0.0.1:{ingress.ports['https']}/checkout",
                                 headers={"Host": "shop.test"}, extensions={"sni_hostname": "shop.test"})
    assert_routed(secure, "shop", "/checkout", "shop.test", "https")

    async def status_written() -> bool | None:
        loaded = await client.get(("networking.k8s.io/v1", "Ingress"), "site", ns)
        return bool(((loaded.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or None

    await eventually(status_written, WAIT, "the Ingress status")
    assert_listed(k, "site", ["shop.test", "blog.test"])
