"""Ingress end to end through kubectl 1.32: an IngressClass (the default), two Services, an Ingress routing
two hosts and paths (Prefix by path elements, Exact, longest match), TLS from a kubernetes.io/tls Secret by
SNI, the status the controller writes (kubectl's ADDRESS column), a defaultBackend, and Kubernetes'
validation messages.

A 3-replica control plane; `raftkube ingress-controller` as its own process on free 127.0.0.1 ports. The
Services have no selector: their Endpoints (applied with kubectl) point at two small HTTP servers of the
test on 127.98.251.1 and .2, which answer with their name, the path, and the Host and X-Forwarded-Proto
headers they got.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from raftkube.local.store_cluster import free_port
from raftkube.pki import CertificateAuthority
from tests.e2e.cluster import E2ECluster, Kubectl, parse_table, wait_until
from tests.e2e.ingress_routes import INGRESS_CLASS, assert_listed, assert_routed

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]
REPO = Path(__file__).resolve().parents[2]
BACKENDS = {"shop": "127.98.251.1", "blog": "127.98.251.2"}


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = (f"{self.server.name} {self.path} host={self.headers.get('Host')} "  # type: ignore[attr-defined]
                f"proto={self.headers.get('X-Forwarded-Proto')}").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, int]]:
    servers = []
    for name, ip in BACKENDS.items():
        server = ThreadingHTTPServer((ip, 0), _Echo)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield {name: s.server_address[1] for name, s in zip(BACKENDS, servers, strict=True)}
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    cluster = E2ECluster(tmp_path_factory.mktemp("ingress-plane"), controllers=True).start()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def k(plane: E2ECluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(plane.write_kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig", 0))


@pytest.fixture(scope="module")
def controller(k: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    ports = {"http": free_port(), "https": free_port()}
    directory = tmp_path_factory.mktemp("ingress")
    log = open(directory / "controller.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "raftkube", "ingress-controller", "--kubeconfig",
                                str(k.kubeconfig), "--http-port", str(ports["http"]), "--https-port",
                                str(ports["https"]), "--data-dir", str(directory / "data")],
                               stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        wait_until(lambda: _answers(ports["http"]), 30, "the ingress controller listening")
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        return True
    except httpx.HTTPError:
        return False


def objects(backends: dict[str, int]) -> str:
    services = "".join(f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: {name}}}
subsets: [{{addresses: [{{ip: {ip}}}], ports: [{{name: http, port: {backends[name]}}}]}}]
""" for name, ip in BACKENDS.items())
    return services + "---\n" + INGRESS_CLASS + """---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
      - {path: /blog, pathType: Prefix, backend: {service: {name: blog, port: {name: http}}}}
      - {path: /exact, pathType: Exact, backend: {service: {name: blog, port: {number: 80}}}}
  - host: blog.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: blog, port: {number: 80}}}}
"""


def get(port: int, host: str, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=5)


def https_get(port: int, server_name: str, path: str, context: ssl.SSLContext) -> httpx.Response:
    """GET with SNI and Host `server_name`, to 127.0.0.1: the certificate is checked against `server_name`."""
    with httpx.Client(verify=context, timeout=5) as client:
        return client.request("GET", f"https://127.0.0.1:{port}{path}", headers={"Host": server_name},
                              extensions={"sni_hostname": server_name})


def test_two_hosts_paths_tls_and_status(k: Kubectl, backends: dict[str, int], controller: dict[str, int],
                                        tmp_path: Path) -> None:
    ca = CertificateAuthority.create(str(tmp_path / "ca"), "test ingress CA")
    pair = ca.issue(str(tmp_path / "certs"), "shop", "shop.example.com", hosts=["shop.example.com"], server=True)
    k("create", "secret", "tls", "shop-tls", "--cert", pair.cert, "--key", pair.key)
    out = k("apply", "-f", "-", input=objects(backends))
    assert "ingressclass.networking.k8s.io/raftkube created" in out and "ingress.networking.k8s.io/web created" in out
    http = controller["http"]
    first = wait_until(lambda: (r := get(http, "blog.example.com", "/")).status_code == 200 and r, 30,
                       "the Ingress routed")
    assert_routed(first, "blog", "/", "blog.example.com")
    cases = {("shop.example.com", "/"): "shop", ("shop.example.com", "/cart?x=1"): "shop",
             ("shop.example.com", "/blog"): "blog", ("shop.example.com", "/blog/post/1"): "blog",
             ("shop.example.com", "/blogger"): "shop", ("shop.example.com", "/exact"): "blog",
             ("shop.example.com", "/exact/more"): "shop", ("SHOP.example.com:80", "/blog"): "blog",
             ("blog.example.com", "/anything"): "blog"}
    for (host, path), expected in cases.items():
        assert_routed(get(http, host, path), expected, path, host)
    assert get(http, "other.example.com", "/").status_code == 404

    context = ssl.create_default_context(cafile=ca.cert_path)
    assert_routed(https_get(controller["https"], "shop.example.com", "/blog/x", context), "blog", "/blog/x",
                  "shop.example.com", "https")
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # no Secret: the default cert
        https_get(controller["https"], "blog.example.com", "/", context)
    default = ssl.get_server_certificate(("127.0.0.1", controller["https"]))
    subject = x509.load_pem_x509_certificate(default.encode()).subject.rfc4514_string()
    assert subject == "CN=ingress.local"

    wait_until(lambda: parse_table(k("get", "ingress"))[0]["ADDRESS"] or None, 30, "the status written")
    assert_listed(k, "web", ["shop.example.com", "blog.example.com"])
    status = k.json("get", "ing", "web")["status"]["loadBalancer"]["ingress"]
    assert status == [{"ip": "127.0.0.1", "ports": [{"port": p, "protocol": "TCP"} for p in sorted(
        controller.values())]}]
    classes = parse_table(k("get", "ingressclass"))
    assert list(classes[0]) == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
    assert [classes[0][c] for c in ("NAME", "CONTROLLER", "PARAMETERS")] == [
        "raftkube", "raftkube.io/ingress-controller", "<none>"]

    k("apply", "-f", "-", input="""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: fallback}
spec:
  defaultBackend: {service: {name: shop, port: {number: 80}}}
""")
    fallback = wait_until(lambda: (r := get(http, "other.example.com", "/x")).status_code == 200 and r, 30,
                          "the default backend")
    assert_routed(fallback, "shop", "/x", "other.example.com")
    k("delete", "endpoints", "blog")
    assert wait_until(lambda: get(http, "blog.example.com", "/").status_code == 503 or None, 30,
                      "no endpoints: 503")


BAD = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad}
spec:
  rules:
  - host: %s
    http:
      paths:
      - {path: %s, %s backend: {service: {name: shop, port: %s}}}
"""


def test_validation_messages(k: Kubectl) -> None:
    where = "spec.rules[0].http.paths[0]"
    cases = [
        (("a.example.com", "/", "", "{number: 80}"), f"{where}.pathType: Required value: pathType must be specified"),
        (("a.example.com", "/", "pathType: Fuzzy,", "{number: 80}"),
         f'{where}.pathType: Unsupported value: "Fuzzy": supported values: "Exact", "ImplementationSpecific", '
         '"Prefix"'),
        (("a.example.com", "/", "pathType: Prefix,", "{}"),
         f"{where}.backend.service.port: Required value: port name or number is required"),
        (("a.example.com", "/", "pathType: Prefix,", "{name: http, number: 80}"),
         "cannot set both port name & port number"),
        (("a.example.com", "api", "pathType: Exact,", "{number: 80}"),
         f'{where}.path: Invalid value: "api": must be an absolute path'),
        (("10.0.0.1", "/", "pathType: Prefix,", "{number: 80}"),
         'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'),
    ]
    for args, message in cases:
        failed = k.fail("apply", "-f", "-", input=BAD % args)
        assert 'The Ingress "bad" is invalid' in failed.stderr and message in failed.stderr, (message, failed.stderr)
    nothing = k.fail("apply", "-f", "-", input="apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
                                              "metadata: {name: bad}\nspec: {}\n")
    assert "either `defaultBackend` or `rules` must be specified" in nothing.stderr
    no_controller = k.fail("apply", "-f", "-", input="apiVersion: networking.k8s.io/v1\nkind: IngressClass\n"
                                                    "metadata: {name: bad}\nspec: {}\n")
    assert "spec.controller: Required value" in no_controller.stderr
    explained = k("explain", "ingress.spec.rules.http.paths.pathType")
    assert "KIND:       Ingress" in explained and "pathType" in explained and "Prefix" in explained
