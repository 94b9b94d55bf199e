"""Three `raftkube server` processes (store replica + API server each) on 127.0.0.1.

The control-plane counterpart of `local.store_cluster.LocalCluster`: same start/kill/restart
and health waits (through each replica's store port), plus an API address per replica, a
static token file, an encryption-at-rest configuration for Secrets (a random key) and, by
default, TLS (kubectl never sends a token over plain HTTP): the CA is `ca_file`, and
`api_url(i)` is https. Every file it writes is private (0600, directories 0700) but the CA
certificate. For `raftkube up`, the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from ..api.encryption import write_encryption_config
from ..pki import Pki, ensure_pki
from ..secure_files import write_private
from .store_cluster import LocalCluster, ReplicaProcess, free_port

DEFAULT_TOKEN = "raftkube-admin-token"


@dataclass
class LocalControlPlane(LocalCluster):
    token: str = DEFAULT_TOKEN
    api_ports: list[int] = field(default_factory=list)
    api_addrs: dict[str, str] = field(default_factory=dict)
    tls: bool = True
    controllers: bool = True  # run each replica's controller-manager and scheduler

    @property
    def pki(self) -> Pki:
        return ensure_pki(os.path.join(self.base_dir, "pki"))

    @property
    def ca_file(self) -> str | None:
        return self.pki.ca_cert if self.tls else None

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
        return f"{'https' if self.tls else 'http'}://{self.api_addrs[self.replicas[i].name]}"

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
            write_private(self.token_file, f"{self.token},admin,admin-uid,system:masters\n")
        tls = ["--tls-cert", self.pki.server_cert, "--tls-key", self.pki.server_key] if self.tls else []
        control = ["--kubeconfig", self._replica_kubeconfig(replica)] if self.controllers else []
        return [sys.executable, "-m", "raftkube", "server", "--id", replica.name, "--raft-addr", replica.raft_addr,
                "--peers", ",".join(peers), "--api-addr", self.api_addrs[replica.name],
                "--store-addr", replica.http_addr, "--data-dir", replica.data_dir,
                "--cluster-secret-file", self.secret_file, "--token-file", self.token_file,
                "--encryption-provider-config", self.encryption_config, *tls, *control, *self.extra_args]

    def _replica_kubeconfig(self, replica: ReplicaProcess) -> str:
        """The kubeconfig a replica's controllers use: its own API first, then the others."""
        import yaml

        from ..client.kubeconfig import build_kubeconfig

        path = os.path.join(self.base_dir, f"{replica.name}.kubeconfig")
        if not os.path.exists(path):
            mine = f"{'https' if self.tls else 'http'}://{self.api_addrs[replica.name]}"
            others = [self.api_url(i) for i, r in enumerate(self.replicas)
                      if r.name != replica.name and r.name in self.api_addrs]
            doc = build_kubeconfig([mine, *others], self.token, ca_data=self.pki.ca_pem() if self.tls else None)
            write_private(path, yaml.safe_dump(doc, sort_keys=False))
        return path
