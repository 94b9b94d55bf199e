"""Three `raftkube server` processes (store replica + API server each) on 127.0.0.1.

The control-plane counterpart of `store.local_cluster.LocalCluster`: same start/kill/restart
and health waits (through each replica's store port), plus an API address per replica, a
static token file and, by default, TLS (kubectl never sends a token over plain HTTP): the
CA is `ca_file`, and `api_url(i)` is https. For `raftkube up`, the end-to-end tests and the
benchmarks.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from .pki import Pki, ensure_pki
from .store.local_cluster import LocalCluster, ReplicaProcess, free_port

DEFAULT_TOKEN = "raftkube-admin-token"


@dataclass
class LocalControlPlane(LocalCluster):
    token: str = DEFAULT_TOKEN
    api_ports: list[int] = field(default_factory=list)
    api_addrs: dict[str, str] = field(default_factory=dict)
    tls: bool = True

    @property
    def pki(self) -> Pki:
        return ensure_pki(os.path.join(self.base_dir, "pki"))

    @property
    def ca_file(self) -> str | None:
        return self.pki.ca_cert if self.tls else None

    @property
    def token_file(self) -> str:
        return os.path.join(self.base_dir, "tokens.csv")

    def api_url(self, i: int) -> str:
        return f"{'https' if self.tls else 'http'}://{self.api_addrs[self.replicas[i].name]}"

    @property
    def api_urls(self) -> list[str]:
        return [self.api_url(i) for i in range(len(self.replicas))]

    def command(self, replica: ReplicaProcess, peers: list[str]) -> list[str]:
        if replica.name not in self.api_addrs:
            index = len(self.api_addrs)
            port = self.api_ports[index] if index < len(self.api_ports) else free_port()
            self.api_addrs[replica.name] = f"127.0.0.1:{port}"
        if not os.path.exists(self.token_file):
            with open(self.token_file, "w") as f:
                f.write(f"{self.token},admin,admin-uid,system:masters\n")
        tls = ["--tls-cert", self.pki.server_cert, "--tls-key", self.pki.server_key] if self.tls else []
        return [sys.executable, "-m", "raftkube", "server", "--id", replica.name, "--raft-addr", replica.raft_addr,
                "--peers", ",".join(peers), "--api-addr", self.api_addrs[replica.name],
                "--store-addr", replica.http_addr, "--data-dir", replica.data_dir,
                "--cluster-secret", self.secret, "--token-file", self.token_file, *tls, *self.extra_args]
