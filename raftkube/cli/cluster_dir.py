"""The files `raftkube init` and `raftkube join` leave on a machine, and the env files systemd reads.

One directory per machine (default /etc/raftkube), 0700, every secret in it 0600:

    pki/ca.crt ca.key                 the cluster CA (control-plane machines keep the key)
    pki/apiserver.crt .key            this API server's serving certificate (its addresses)
    pki/apiserver-kubelet-client.*    the API server's client certificate to the agents
    pki/node.crt .key                 a worker's log-server certificate (system:node:<name>)
    pki/sa.key sa.pub                 the service-account token signing key (shared by the control plane)
    cluster-secret                    the Raft peers' shared secret
    store-token                       bearer token of the store's own port (loopback)
    tokens.csv                        static API tokens: the admin and the control plane
    encryption-config.yaml            Secrets at rest (EncryptionConfiguration, aesgcm)
    certificate-key                   opens the control-plane bundle (raftkube/join_bundle.py)
    bootstrap-token                   the first join token, uploaded by the server at start
    admin.kubeconfig                  cluster admin; control-plane.kubeconfig for the controllers
    node.kubeconfig                   a worker's own identity
    server.env / agent.env            RAFTKUBE_SERVER_ARGS / RAFTKUBE_AGENT_ARGS for the units
    data/ agent/                      the store replica's journal and snapshots; the agent's pods

The env files hold one variable each, the full argument list, which the systemd units
(deploy/systemd/) expand word by word (`ExecStart=... server $RAFTKUBE_SERVER_ARGS`), so
paths must not contain spaces.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

import yaml

from ..client.kubeconfig import build_kubeconfig
from ..secure_files import private_dir, write_private

DEFAULT_DIR = "/etc/raftkube"
API_PORT, RAFT_PORT, STORE_PORT, AGENT_PORT = 6443, 7001, 8001, 10250
BUNDLED = ("pki/ca.crt", "pki/ca.key", "pki/sa.key", "pki/sa.pub", "cluster-secret", "store-token", "tokens.csv",
           "encryption-config.yaml")
ADMIN_USER, CONTROL_PLANE_USER = "kubernetes-admin", "system:raftkube-control-plane"


@dataclass(frozen=True)
class ClusterDir:
    root: str

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    @property
    def pki(self) -> str:
        return self.path("pki")

    def create(self) -> ClusterDir:
        private_dir(self.root)
        private_dir(self.pki)
        return self

    def initialised(self) -> bool:
        return any(os.path.exists(self.path(n)) for n in ("cluster-secret", "node.kubeconfig", "server.env"))

    def write(self, name: str, data: bytes | str) -> str:
        return write_private(self.path(name), data)

    def read(self, name: str) -> str:
        with open(self.path(name)) as f:
            return f.read().strip()

    def bundle(self) -> dict[str, bytes]:
        """The shared secrets a joining control-plane machine needs (those that exist)."""
        files: dict[str, bytes] = {}
        for name in BUNDLED:
            if os.path.exists(self.path(name)):
                with open(self.path(name), "rb") as f:
                    files[name] = f.read()
        return files

    def static_token(self, user: str) -> str:
        with open(self.path("tokens.csv")) as f:
            for line in f:
                fields = line.strip().split(",")
                if len(fields) >= 2 and fields[1] == user:
                    return fields[0]
        raise KeyError(f"{self.path('tokens.csv')} has no token for {user}")

    def write_kubeconfig(self, name: str, servers: list[str], token: str, ca_pem: str, user: str) -> str:
        doc = build_kubeconfig(servers, token, ca_data=ca_pem, user=user)
        return self.write(name, yaml.safe_dump(doc, sort_keys=False))

    def write_env(self, name: str, variable: str, args: list[str]) -> str:
        for arg in args:
            if any(c.isspace() for c in arg):
                raise ValueError(f"{arg!r}: systemd splits {variable} at spaces; use paths without spaces")
        return self.write(name, f"# written by raftkube; read by deploy/systemd units\n{variable}={shlex.join(args)}\n")


def advertise_ip(text: str) -> str:
    """`--advertise-address` as an IP address (a usage error naming the flag otherwise)."""
    import ipaddress

    import click

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an IP address", param_hint="--advertise-address") from None


def url_host(address: str) -> str:
    """An IP as it stands in a URL or host:port (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


def read_env_args(path: str, variable: str) -> list[str]:
    """The argument list an env file holds (what systemd passes to the process)."""
    with open(path) as f:
        for line in f:
            if line.startswith(variable + "="):
                return shlex.split(line.split("=", 1)[1])
    raise KeyError(f"{path} does not set {variable}")


def server_args(cluster: ClusterDir, name: str, address: str, peers: list[str], api_port: int = API_PORT,
                raft_port: int = RAFT_PORT, store_port: int = STORE_PORT) -> list[str]:
    """`raftkube server` arguments for a control-plane machine whose files are in `cluster`."""
    host = url_host(address)
    args = ["--id", name, "--raft-addr", f"{host}:{raft_port}", "--peers", ",".join(peers) or "",
            "--api-addr", f"{host}:{api_port}", "--advertise-url", f"https://{host}:{api_port}",
            "--store-addr", f"127.0.0.1:{store_port}", "--store-token-file", cluster.path("store-token"),
            "--data-dir", cluster.path("data"), "--cluster-secret-file", cluster.path("cluster-secret"),
            "--token-file", cluster.path("tokens.csv"),
            "--tls-cert", cluster.path("pki/apiserver.crt"), "--tls-key", cluster.path("pki/apiserver.key"),
            "--client-ca-file", cluster.path("pki/ca.crt"),
            "--kubelet-client-cert", cluster.path("pki/apiserver-kubelet-client.crt"),
            "--kubelet-client-key", cluster.path("pki/apiserver-kubelet-client.key"),
            "--kubelet-certificate-authority", cluster.path("pki/ca.crt"),
            "--service-account-signing-key-file", cluster.path("pki/sa.key"),
            "--kubeconfig", cluster.path("control-plane.kubeconfig"), "--config-dir", cluster.root]
    if os.path.exists(cluster.path("encryption-config.yaml")):
        args += ["--encryption-provider-config", cluster.path("encryption-config.yaml")]
    if not peers:
        args.remove("--peers")
        args.remove("")
    return args


def agent_args(cluster: ClusterDir, name: str, address: str, port: int = AGENT_PORT) -> list[str]:
    return ["--node", name, "--kubeconfig", cluster.path("node.kubeconfig"), "--address", address,
            "--port", str(port), "--data-dir", cluster.path("agent"),
            "--tls-cert", cluster.path("pki/node.crt"), "--tls-key", cluster.path("pki/node.key"),
            "--client-ca-file", cluster.path("pki/ca.crt"), "--start-podman"]
