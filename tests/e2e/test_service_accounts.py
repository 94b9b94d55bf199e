"""ServiceAccounts on a real 3-replica control plane with controllers, through kubectl 1.32: `kubectl create
token` (duration, bound to a pod), the token accepted by every replica (they share pki/sa.key), the default
account and kube-root-ca.crt of a new namespace, `kubectl get sa`, and the `kubernetes` Service whose
Endpoints list the three API servers and whose ClusterIP the serving certificate names."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from raftkube.pki import KUBERNETES_SERVICE_IP

from .cluster import E2ECluster, Kubectl, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("sa-plane"), controllers=True).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def ns(cluster: E2ECluster) -> str:
    name = f"sa-{uuid.uuid4().hex[:6]}"
    cluster.create_namespace(name)
    return name


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_kubectl_create_token_for_an_account_and_a_pod(cluster: E2ECluster, k: Kubectl, ns: str) -> None:
    assert k("create", "serviceaccount", "robot").strip() == "serviceaccount/robot created"
    token = k("create", "token", "robot", "--duration", "2h").strip()
    claims = claims_of(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:robot"
    assert claims["exp"] - claims["iat"] == 7200  # type: ignore[operator]
    for replica in range(3):  # every replica verifies it: they share the signing key
        assert cluster.get(replica, "/api/v1", token=token).status_code == 200
    assert cluster.get(0, "/api/v1", token=token[:-4] + "AAAA").status_code == 401
    k("run", "p1", "--image", "busybox:1", "--overrides",
      json.dumps({"spec": {"serviceAccountName": "robot"}}))
    bound = k("create", "token", "robot", "--bound-object-kind", "Pod", "--bound-object-name", "p1").strip()
    uid = k.json("get", "pod", "p1")["metadata"]["uid"]
    assert claims_of(bound)["kubernetes.io"]["pod"] == {"name": "p1", "uid": uid}  # type: ignore[index]
    assert cluster.get(1, "/api/v1", token=bound).status_code == 200
    k("delete", "pod", "p1", "--grace-period", "0", "--force", "--wait=false")
    wait_until(lambda: all(cluster.get(r, "/api/v1", token=bound).status_code == 401 for r in range(3)), 20,
               "the deleted pod's token refused by every replica")
    short = k.fail("create", "token", "robot", "--duration", "5m")
    assert "10 minutes" in short.stderr or "at least 10 minutes" in short.stderr, short.stderr


def test_a_new_namespace_gets_default_and_the_root_ca(cluster: E2ECluster, k: Kubectl, ns: str) -> None:
    lines = wait_until(lambda: (out := k("get", "serviceaccounts")) and "default" in out and out.splitlines(), 20,
                       "the default ServiceAccount")
    assert lines[0].split() == ["NAME", "SECRETS", "AGE"] and lines[1].split()[:2] == ["default", "0"]
    ca = wait_until(lambda: k.run("get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}",
                                  check=False).stdout, 20, "kube-root-ca.crt")
    assert ca == cluster.ca_cert.read_text()
    k("run", "p1", "--image", "busybox:1")  # admitted right after its namespace: default exists or is waited for
    spec = k.json("get", "pod", "p1")["spec"]
    assert spec["serviceAccountName"] == "default"
    assert any(v["name"].startswith("kube-api-access-") for v in spec["volumes"])


def test_the_kubernetes_service_lists_every_api_server(cluster: E2ECluster, k: Kubectl) -> None:
    service = k.json("get", "service", "kubernetes", "-n", "default")
    assert service["spec"]["clusterIP"] == KUBERNETES_SERVICE_IP and service["spec"]["ports"][0]["port"] == 443
    wanted = sorted(int(url.rsplit(":", 1)[1]) for url in cluster.plane.api_urls)

    def ports() -> list[int] | None:
        subsets = k.json("get", "endpoints", "kubernetes", "-n", "default").get("subsets") or []
        found = sorted(p["port"] for s in subsets for p in s["ports"] if s["addresses"] == [{"ip": "127.0.0.1"}])
        return found if found == wanted else None
    wait_until(ports, 30, "the Endpoints of the three API servers")
    cert = x509.load_pem_x509_certificate(Path(cluster.plane.pki.server_cert).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {KUBERNETES_SERVICE_IP}
    assert set(names.get_values_for_type(x509.DNSName)) >= {
        "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
