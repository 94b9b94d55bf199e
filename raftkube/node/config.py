"""The node agent's settings (`raftkube agent` flags, or built directly for hollow nodes in benchmarks)."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

from .pod_dns import ClusterDnsSettings


def default_pod_cidr(node: str) -> str:
    """127.98.<1 + crc32(node) % 250>.0/24: a loopback /24 per node, stable across restarts."""
    return f"127.98.{1 + zlib.crc32(node.encode()) % 250}.0/24"


def host_memory_bytes() -> int:
    """MemTotal from /proc/meminfo (8 GiB when unreadable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8 * 1024**3


@dataclass
class AgentConfig:
    node: str
    pod_cidr: str = ""  # default_pod_cidr(node) when empty
    address: str = "127.0.0.1"  # InternalIP, the log server's address and host-network pods' IP
    port: int | None = 10250  # log server port; 0/None = no log server
    tls_cert: str | None = None  # the log server's serving certificate (for `address`), required with `port`
    tls_key: str | None = None
    client_ca_file: str | None = None  # CA of the API server's client certificate
    data_dir: str = "./agent-data"
    labels: dict[str, str] = field(default_factory=dict)
    heartbeat: float = 2.0  # Lease renewal period (s)
    lease_duration: int = 10
    status_period: float = 10.0  # Node status refresh period (s)
    stats_period: float = 10.0  # resource usage sampling period for /stats/summary (s): CPU rates span one period
    cpu: str | None = None  # capacity overrides (hollow nodes); None = from the host
    memory: str | None = None
    pods: int = 110
    relist_period: float = 1.0  # how often the runtime is listed to notice containers that exited
    resync_period: float = 10.0  # each pod worker syncs at least this often
    backoff_base: float = 1.0  # container restart back-off: base doubling up to backoff_max
    backoff_max: float = 60.0
    backoff_reset: float = 60.0  # a container that ran this long resets its back-off
    pressure_checks: bool = True  # compute Memory/Disk/PID pressure from the host (off for hollow nodes)
    events: bool = True  # write v1 Events
    pod_network: str = ""  # the runtime network bridge pods join ("" = the runtime's default)
    cluster_dns: str = ""  # the nameserver pods get for dnsPolicy ClusterFirst ("" = none: the node's own)
    cluster_domain: str = "cluster.local"

    def __post_init__(self) -> None:
        if not self.pod_cidr:
            self.pod_cidr = default_pod_cidr(self.node)

    @property
    def cpu_capacity(self) -> str:
        return self.cpu or str(os.cpu_count() or 1)

    @property
    def memory_capacity(self) -> str:
        if self.memory:
            return self.memory
        return f"{host_memory_bytes() // 1024}Ki"

    @property
    def cluster_dns_settings(self) -> ClusterDnsSettings | None:
        return ClusterDnsSettings(self.cluster_dns, self.cluster_domain) if self.cluster_dns else None

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.data_dir, "pods", uid)

    @property
    def storage_dir(self) -> str:
        """Where the local-path volumes of this node live (announced on the Node: node_status.py)."""
        return os.path.abspath(os.path.join(self.data_dir, "storage"))
