"""How bridge pods on Podman reach Services and the cluster DNS (docs/networking.md tells the whole design).

Cluster IPs live on the host's loopback (127.96.0.0/16), which a pod's own network namespace shadows. So
every Service also has a pod-side alias, 10.96.c.d for cluster IP 127.96.c.d (`service_alias`), and the
node DNS server answers pods with aliases. The host makes the whole alias range local with one route,
`local 10.96.0.0/16 dev lo` (as 127.0.0.0/8 is): pods reach it through their default gateway, the service
proxy binds its alias listeners there, and an alias nothing listens on is refused by the host itself, so
no packet to the range ever leaves the machine. An nftables table drops packets to the range that come in
on any interface other than loopback and raftkube's pod bridges. The node DNS address for pods is
10.96.0.10 (`CLUSTER_DNS_ADDRESS`, kubeadm's kube-dns address), in the same range. Pod IPs 127.98.c.d
have aliases too, 10.98.c.d (`endpoint_alias`), local in the same way: the DNS answers them for headless
Services and StatefulSet pod names, and the proxy forwards each alias port to its pod.

Each node's pods join a Podman bridge network of the node's own (`node_network`: raftkube-<node>,
10.97.<k>.0/24, bridge rkbr<k>, Podman's DNS off), so raftkube's pods are told apart from others.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
import zlib
from dataclasses import dataclass

log = logging.getLogger(__name__)
SERVICE_ALIAS_RANGE = ipaddress.IPv4Network("10.96.0.0/16")
POD_IP_RANGE = ipaddress.IPv4Network("127.98.0.0/16")  # the agents' pod IPs (node.config.default_pod_cidr)
ENDPOINT_ALIAS_RANGE = ipaddress.IPv4Network("10.98.0.0/16")
LOCAL_RANGES = (SERVICE_ALIAS_RANGE, ENDPOINT_ALIAS_RANGE)
CLUSTER_DNS_ADDRESS = "10.96.0.10"
BRIDGE_PREFIX = "rkbr"
NFT_TABLE = "raftkube_services"


class NetworkSetupError(Exception):
    pass


@dataclass(frozen=True)
class NodeNetwork:
    name: str  # the Podman network
    subnet: str
    gateway: str
    interface: str  # the bridge's name (at most 15 characters)


def node_network(node: str) -> NodeNetwork:
    """The node's pod network: 10.97.<1 + crc32(node) % 250>.0/24, stable across restarts."""
    k = 1 + zlib.crc32(node.encode()) % 250
    return NodeNetwork(f"raftkube-{node}", f"10.97.{k}.0/24", f"10.97.{k}.1", f"{BRIDGE_PREFIX}{k}")


def service_alias(cluster_ip: str) -> str | None:
    """The pod-side address of a cluster IP: its last two octets in 10.96.0.0/16 (None for non-IPv4)."""
    try:
        packed = ipaddress.IPv4Address(cluster_ip).packed
    except ValueError:
        return None
    return str(SERVICE_ALIAS_RANGE.network_address + int.from_bytes(packed[2:], "big"))


def endpoint_alias(pod_ip: str) -> str | None:
    """The pod-side address of a pod IP 127.98.c.d: 10.98.c.d (None for other addresses: they need none)."""
    try:
        address = ipaddress.IPv4Address(pod_ip)
    except ValueError:
        return None
    if address not in POD_IP_RANGE:
        return None
    return str(ENDPOINT_ALIAS_RANGE.network_address + (int(address) - int(POD_IP_RANGE.network_address)))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)


def guard_ruleset() -> str:
    """The nftables table that keeps the alias range to loopback and raftkube's pod bridges."""
    return (f"table ip {NFT_TABLE}\nflush table ip {NFT_TABLE}\ntable ip {NFT_TABLE} {{\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f"    ip daddr {{ {', '.join(map(str, LOCAL_RANGES))} }} iifname != \"lo\" "
            f"iifname != \"{BRIDGE_PREFIX}*\" drop\n"
            "  }\n"
            "}\n")


def ensure_host_routes() -> None:
    """Make the alias range local to this host and guard it (idempotent, one nft transaction; needs root)."""
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            raise NetworkSetupError(f"{tool} is not installed: the pod network needs iproute2 and nftables")
    for local in LOCAL_RANGES:
        done = _run("ip", "route", "replace", "local", str(local), "dev", "lo", "table", "local")
        if done.returncode != 0:
            raise NetworkSetupError(f"cannot route {local} to the host: {done.stderr.strip()}")
    done = subprocess.run(["nft", "-f", "-"], input=guard_ruleset(), capture_output=True, text=True, timeout=30,
                          check=False)
    if done.returncode != 0:
        raise NetworkSetupError(f"cannot install the nftables guard: {done.stderr.strip()}")
