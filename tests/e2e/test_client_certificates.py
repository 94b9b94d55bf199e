"""Client certificates authenticate kubectl (kube-apiserver's --client-ca-file): CN is the user, O the
groups; RBAC decides what the user may; a certificate from another CA is refused at the handshake;
a bearer token still wins over a certificate when both are sent, and a wrong one is a 401."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from raftkube.pki import CertificateAuthority

from .cluster import E2ECluster, Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("x509-plane")).start()
    try:
        yield plane
    finally:
        plane.close()


def cert_kubeconfig(cluster: E2ECluster, directory: Path, ca: CertificateAuthority, user: str,
                    groups: tuple[str, ...], token: str | None = None) -> Kubectl:
    pair = ca.issue(str(directory), user.replace(":", "-"), user, groups, client=True)
    credentials = {"client-certificate": pair.cert, "client-key": pair.key, **({"token": token} if token else {})}
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c", "preferences": {},
              "clusters": [{"name": "c", "cluster": {"server": cluster.api_url(0),
                                                     "certificate-authority": str(cluster.ca_cert)}}],
              "users": [{"name": "u", "user": credentials}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}]}
    path = directory / f"{user.replace(':', '-')}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return Kubectl(path)


def test_a_certificate_names_the_user_and_groups(cluster: E2ECluster, tmp_path: Path) -> None:
    ca = CertificateAuthority.load(cluster.plane.pki_dir)
    admin = cert_kubeconfig(cluster, tmp_path, ca, "ops-admin", ("system:masters",))
    assert "ops-admin" in admin("auth", "whoami") and "system:masters" in admin("auth", "whoami")
    assert "configmap/by-cert created" in admin("create", "configmap", "by-cert", "--from-literal=a=b")
    jane = cert_kubeconfig(cluster, tmp_path, ca, "jane", ("devs",))
    whoami = jane("auth", "whoami")
    assert "jane" in whoami and "devs" in whoami and "system:authenticated" in whoami
    refused = jane.fail("get", "configmap", "by-cert").stderr  # authenticated, but RBAC grants jane nothing
    assert 'User "jane" cannot get resource "configmaps"' in refused, refused
    assert jane.run("auth", "can-i", "get", "configmaps", check=False).stdout.strip() == "no"


def test_another_ca_is_refused_and_a_token_wins(cluster: E2ECluster, tmp_path: Path) -> None:
    stranger_ca = CertificateAuthority.create(str(tmp_path / "other-ca"), "not-the-cluster-ca")
    stranger = cert_kubeconfig(cluster, tmp_path, stranger_ca, "mallory", ("system:masters",))
    failed = stranger.fail("create", "configmap", "from-mallory", "--from-literal=a=b").stderr
    # the handshake is refused (TLS 1.3: the server drops the connection): no HTTP answer at all, nothing made
    # (kubectl words it as EOF, "server closed idle connection" or a certificate error, by timing)
    assert "Error from server" not in failed, failed
    admin = Kubectl(cluster.write_kubeconfig(tmp_path / "admin.kubeconfig", 0))
    assert "NotFound" in admin.fail("get", "configmap", "from-mallory").stderr
    ca = CertificateAuthority.load(cluster.plane.pki_dir)
    # an admin certificate with a wrong token: the token is judged (401), the certificate is not used
    wrong = cert_kubeconfig(cluster, tmp_path / "w", ca, "root-cert", ("system:masters",), token="not-a-token")
    assert "Unauthorized" in wrong.fail("get", "configmaps").stderr
