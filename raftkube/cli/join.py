"""`raftkube join SERVER --token T --discovery-token-ca-cert-hash H`: add this machine to a cluster.

As kubeadm join: the CA is fetched from SERVER without trusting the connection, then trusted
only if its hash is H; every later request is verified TLS to that CA, authenticated with the
bootstrap token T (raftkube/api/join.py answers).

- a worker (the default) generates its own key, sends a CSR and gets back its node token
  (`system:node:<name>`) and its log server's certificate: it writes node.kubeconfig, pki/ and
  agent.env for the `raftkube-agent` unit.
- `--control-plane --certificate-key K` makes it a control-plane replica: the server adds its
  Raft address to the membership and sends the sealed bundle of shared secrets, opened with K;
  it issues its own API server certificates from the CA and writes server.env with the current
  members as peers. Start the unit at once: a second member joins a one-member cluster, and the
  cluster has no quorum until it runs.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any

import click
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..join_bundle import key_proof, unseal
from ..pki import ca_cert_hash, ensure_pki
from ..secure_files import restrict_umask, write_private, write_public
from .cluster_dir import (
    ADMIN_USER,
    AGENT_PORT,
    API_PORT,
    CONTROL_PLANE_USER,
    DEFAULT_DIR,
    RAFT_PORT,
    STORE_PORT,
    ClusterDir,
    advertise_ip,
    agent_args,
    server_args,
    url_host,
)

TIMEOUT = 30.0


def discover_ca(url: str, expected_hash: str) -> str:
    """The cluster CA from `url`, trusted only when its public key hashes to `expected_hash`."""
    try:
        response = httpx.get(f"{url}/raftkube/v1/cluster-ca", verify=False, timeout=TIMEOUT)  # noqa: S501 (pinned next)
        response.raise_for_status()
        ca_pem = str(response.json()["ca"])
    except (httpx.HTTPError, ValueError, KeyError) as err:
        raise click.ClickException(f"could not fetch the cluster CA from {url}: {err}") from None
    actual = ca_cert_hash(ca_pem)
    if actual != expected_hash.strip().lower():
        raise click.ClickException(f"the CA at {url} hashes to {actual}, not {expected_hash}: refusing to trust it")
    return ca_pem


def post_join(url: str, ca_pem: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cadata=ca_pem)
    try:
        response = httpx.post(f"{url}/raftkube/v1/join", json=body, verify=context, timeout=TIMEOUT,
                              headers={"authorization": f"Bearer {token}"})
    except httpx.HTTPError as err:
        raise click.ClickException(f"join request to {url} failed: {err}") from None
    if response.status_code != 200:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise click.ClickException(f"{url} refused the join ({response.status_code}): {message}")
    result: dict[str, Any] = response.json()
    return result


def _csr(key: ec.EllipticCurvePrivateKey, name: str) -> str:
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}")]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def join_worker(cluster: ClusterDir, url: str, ca_pem: str, token: str, name: str, address: str,
                agent_port: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    answer = post_join(url, ca_pem, token, {"role": "worker", "name": name, "address": address,
                                            "csr": _csr(key, name)})
    write_public(cluster.path("pki/ca.crt"), ca_pem)
    write_private(cluster.path("pki/node.key"), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write_public(cluster.path("pki/node.crt"), answer["certificate"])
    servers = answer.get("apiServers") or [url]
    cluster.write_kubeconfig("node.kubeconfig", servers, answer["token"], ca_pem, f"system:node:{name}")
    cluster.write_env("agent.env", "RAFTKUBE_AGENT_ARGS", agent_args(cluster, name, address, agent_port))


def join_control_plane(cluster: ClusterDir, url: str, ca_pem: str, token: str, name: str, address: str,
                       certificate_key: str, sans: list[str], ports: tuple[int, int, int]) -> list[str]:
    api_port, raft_port, store_port = ports
    host = url_host(address)
    try:
        proof = key_proof(certificate_key)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--certificate-key") from None
    answer = post_join(url, ca_pem, token, {"role": "control-plane", "name": name, "address": address,
                                            "raftAddress": f"{host}:{raft_port}", "certificateKeyProof": proof})
    try:
        files = unseal(certificate_key, answer["bundle"])
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    for relative, data in files.items():
        (write_public if relative.endswith(".crt") else write_private)(cluster.path(relative), data)
    cluster.write("certificate-key", certificate_key)
    ensure_pki(cluster.pki, [address, name, *sans])
    mine = f"https://{host}:{api_port}"
    servers = [mine, *[s for s in answer.get("apiServers") or [url] if s != mine]]
    cluster.write_kubeconfig("admin.kubeconfig", servers, cluster.static_token(ADMIN_USER), ca_pem, ADMIN_USER)
    cluster.write_kubeconfig("control-plane.kubeconfig", servers, cluster.static_token(CONTROL_PLANE_USER), ca_pem,
                             CONTROL_PLANE_USER)
    peers = list(answer.get("raftMembers") or [])
    cluster.write_env("server.env", "RAFTKUBE_SERVER_ARGS",
                      server_args(cluster, name, address, peers, api_port, raft_port, store_port))
    return peers


@click.command()
@click.argument("server")
@click.option("--token", required=True, envvar="RAFTKUBE_JOIN_TOKEN", help="A bootstrap token (raftkube token create).")
@click.option("--discovery-token-ca-cert-hash", "ca_hash", required=True,
              help="sha256:<hex> of the cluster CA's public key, as `raftkube init` printed it.")
@click.option("--advertise-address", required=True, help="This machine's IP address the others reach.")
@click.option("--name", default=socket.gethostname(), show_default=True, help="This machine's node/replica name.")
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True)
@click.option("--control-plane", is_flag=True, help="Join as a control-plane replica (needs --certificate-key).")
@click.option("--certificate-key", default=None, envvar="RAFTKUBE_CERTIFICATE_KEY")
@click.option("--cert-sans", default="", help="More names or IPs for this API server's certificate.")
@click.option("--api-port", default=API_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--raft-port", default=RAFT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--store-port", default=STORE_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--agent-port", default=AGENT_PORT, show_default=True, type=click.IntRange(1, 65535))
def join(server: str, token: str, ca_hash: str, advertise_address: str, name: str, directory: str,
         control_plane: bool, certificate_key: str | None, cert_sans: str, api_port: int, raft_port: int,
         store_port: int, agent_port: int) -> None:
    """Join this machine to the cluster at SERVER (https://IP:PORT) as a worker or a control-plane replica."""
    restrict_umask()
    address = advertise_ip(advertise_address)
    if control_plane and not certificate_key:
        raise click.BadParameter("a control-plane join needs the certificate key `raftkube init` printed",
                                 param_hint="--certificate-key")
    url = server.rstrip("/") if "://" in server else f"https://{server}"
    cluster = ClusterDir(directory)
    if cluster.initialised():
        raise click.ClickException(f"{directory} already holds a cluster's files; use another --dir or remove it")
    ca_pem = discover_ca(url, ca_hash)
    cluster.create()
    if control_plane:
        assert certificate_key is not None
        peers = join_control_plane(cluster, url, ca_pem, token, name, address, certificate_key,
                                   [s for s in cert_sans.split(",") if s], (api_port, raft_port, store_port))
        click.echo(f"Joined as control-plane replica {name} (Raft peers: {', '.join(peers)}).\n"
                   "Start it now (the cluster waits for it to have a quorum):\n"
                   "  systemctl enable --now raftkube-server\n"
                   f"Admin kubeconfig: {cluster.path('admin.kubeconfig')}")
    else:
        join_worker(cluster, url, ca_pem, token, name, address, agent_port)
        click.echo(f"Joined as worker node {name}.\nStart its agent:\n  systemctl enable --now raftkube-agent\n"
                   f"(files in {directory}; the node's identity is system:node:{name})")
    os.sync()
