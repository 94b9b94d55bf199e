"""Three `raftkube server` processes (store replica + API server each) on 127.0.0.1.

The control-plane counterpart of `local.store_cluster.LocalCluster`: same start/kill/restart
and health waits (through each replica's store port, with the store token), plus an API
address per replica, a static token file with a random admin token per cluster, an
encryption-at-rest configuration for Secrets (a random key) and TLS (the only mode: kubectl
never sends a token over plain HTTP): the CA is `ca_file`, and `api_url(i)` is https. Each
API server gets the CA's client certificate for the agents' log servers and trusts the same
CA for their serving certificates. With controllers, the replicas sign ServiceAccount tokens
with the same key (pki/sa.key). Every file it writes is private (0600, directories 0700)
but the CA certificate. For `raftkube up`, the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field

from ..api.encryption import write_encryption_config
from ..pki import Pki, ensure_pki
from ..secure_files import private_dir, write_private
from .store_cluster import LocalCluster, ReplicaProcess, free_port


def admin_token_line(token: str) -> str:
    return f"{token},admin,admin-uid,system:masters\n"


@dataclass
class LocalControlPlane(LocalCluster):
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api_ports: list[int] = field(default_factory=list)
    api_addrs: dict[str, str] = field(default_factory=dict)
    controllers: bool = True  # run each replica's controller-manager and scheduler

    @property
    def pki(self) -> Pki:
        return ensure_pki(os.path.join(self.base_dir, "pki"))

    @property
    def pki_dir(self) -> str:
        return os.path.join(self.base_dir, "pki")

    @property
    def ca_file(self) -> str:
        return self.pki.ca_cert

    @property
    def token_file(self) -> str:
        return os.path.join(self.base_dir, "tokens.csv")

    @property
    def encryption_config(self) -> str:
        """Secrets at rest: one random AES-GCM key, made on first use (0600)."""
        path = os.path.join(self.base_dir, "encryption-config.yaml")
        if not os.path.exists(path):
            write_encryption_config(path)
        return path

    def api_url(self, i: int) -> str:
        return f"https://{self.api_addrs[self.replicas[i].name]}"

    @property
    def api_urls(self) -> list[str]:
        return [self.api_url(i) for i in range(len(self.replicas))]

    def command(self, replica: ReplicaProcess, peers: list[str]) -> list[str]:
        for other in self.replicas:  # every replica's address is needed for each one's kubeconfig
            if other.name not in self.api_addrs:
                index = len(self.api_addrs)
                port = self.api_ports[index] if index < len(self.api_ports) else free_port()
                self.api_addrs[other.name] = f"127.0.0.1:{port}"
        if not os.path.exists(self.token_file):
            write_private(self.token_file, admin_token_line(self.token))
        pki = self.pki
        tls = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--client-ca-file", pki.ca_cert,
               "--kubelet-client-cert", pki.kubelet_client_cert, "--kubelet-client-key", pki.kubelet_client_key,
               "--kubelet-certificate-authority", pki.ca_cert]
        # ServiceAccounts (tokens, admission) need the controller that makes each namespace's `default` one
        control = ["--kubeconfig", self._replica_kubeconfig(replica),
                   "--service-account-signing-key-file", pki.sa_key] if self.controllers else []
        return [sys.executable, "-m", "raftkube", "server", "--id", replica.name, "--raft-addr", replica.raft_addr,
                "--peers", ",".join(peers), "--api-addr", self.api_addrs[replica.name],
                "--store-addr", replica.http_addr, "--store-token-file", self.store_token_file,
                "--data-dir", replica.data_dir, "--cluster-secret-file", self.secret_file,
                "--token-file", self.token_file, "--encryption-provider-config", self.encryption_config,
                *tls, *control, *self.extra_args]

    def add_token(self, token: str, user: str, uid: str, groups: tuple[str, ...] = ()) -> None:
        """Another identity in the cluster's static token file (read by API servers started after this)."""
        line = f"{token},{user},{uid}" + (f',"{",".join(groups)}"' if groups else "") + "\n"
        existing = open(self.token_file).read() if os.path.exists(self.token_file) else admin_token_line(self.token)
        private_dir(self.base_dir)  # (before start, the plane's directory may not exist yet)
        write_private(self.token_file, existing + line)

    def _replica_kubeconfig(self, replica: ReplicaProcess) -> str:
        """The kubeconfig a replica's controllers use: its own API first, then the others."""
        import yaml

        from ..client.kubeconfig import build_kubeconfig

        path = os.path.join(self.base_dir, f"{replica.name}.kubeconfig")
        if not os.path.exists(path):
            mine = f"https://{self.api_addrs[replica.name]}"
            others = [self.api_url(i) for i, r in enumerate(self.replicas)
                      if r.name != replica.name and r.name in self.api_addrs]
            doc = build_kubeconfig([mine, *others], self.token, ca_data=self.pki.ca_pem())
            write_private(path, yaml.safe_dump(doc, sort_keys=False))
        return path
