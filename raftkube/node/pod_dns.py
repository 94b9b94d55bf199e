"""A pod's resolv.conf as the kubelet writes it: dnsPolicy (ClusterFirst, ClusterFirstWithHostNet,
Default, None) and spec.dnsConfig merged in. Pure; `None` means "the runtime's default" (the node's
own resolv.conf, which Podman copies into the pod).

    pod_dns(pod, ClusterDnsSettings("10.96.0.10", "cluster.local"))
    # -> DnsConfig(servers=("10.96.0.10",), searches=("ns.svc.cluster.local", "svc.cluster.local",
    #                                              "cluster.local"), options=("ndots:5",))

ClusterFirst on a hostNetwork pod falls back to Default, as does every cluster policy on a node that has no
cluster DNS; the cluster policies append the node's own search domains (`node`, the node's resolv.conf),
Default with a dnsConfig starts from the node's resolv.conf; dnsConfig's nameservers and searches are
appended (without repeats) and its options override those of the same name, as in Kubernetes.
At most 3 nameservers and 32 search domains are kept (the kubelet's limits).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32


@dataclass(frozen=True)
class ClusterDnsSettings:
    address: str  # the nameserver pods are given
    domain: str = "cluster.local"


@dataclass(frozen=True)
class DnsConfig:
    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # "name" or "name:value"

    def resolv_conf(self) -> str:
        lines = [f"nameserver {s}" for s in self.servers]
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def _unique(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out


def _merge_options(base: list[str], extra: list[Obj]) -> list[str]:
    by_name: dict[str, str] = {option.split(":", 1)[0]: option for option in base}
    for option in extra:
        if not isinstance(option, dict) or not option.get("name"):
            continue
        name = str(option["name"])
        by_name[name] = name if option.get("value") in (None, "") else f"{name}:{option['value']}"
    return list(by_name.values())


def parse_resolv_conf(text: str) -> DnsConfig:
    """nameserver, search (the last line wins, as in glibc) and options lines of a resolv.conf."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1])
        elif words and words[0] in ("search", "domain"):
            searches = words[1:]
        elif words and words[0] == "options":
            options += words[1:]
    return DnsConfig(tuple(servers), tuple(searches), tuple(options))


@functools.lru_cache(maxsize=4)
def node_resolv_conf(path: str = "/etc/resolv.conf") -> DnsConfig:
    """The node's resolv.conf (read once; empty when unreadable)."""
    try:
        with open(path) as f:
            return parse_resolv_conf(f.read())
    except OSError:
        return DnsConfig()


def pod_dns(pod: Obj, cluster: ClusterDnsSettings | None, node: DnsConfig | None = None) -> DnsConfig | None:
    """The pod's DNS configuration, or None for the node's own (dnsPolicy Default without dnsConfig)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(spec.get("hostNetwork"))
    extra = spec.get("dnsConfig") if isinstance(spec.get("dnsConfig"), dict) else None
    if policy == "ClusterFirst" and host_network:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster is None:
        policy = "Default"
    if policy == "Default" and extra is None:
        return None
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster is not None:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        servers = [cluster.address]
        searches = [f"{namespace}.svc.{cluster.domain}", f"svc.{cluster.domain}", cluster.domain,
                    *(node.searches if node else ())]
        options = ["ndots:5"]
    elif policy == "Default" and node is not None:
        servers, searches, options = list(node.servers), list(node.searches), list(node.options)
    if extra is not None:
        servers += [str(s) for s in extra.get("nameservers") or []]
        searches += [str(s) for s in extra.get("searches") or []]
        options = _merge_options(options, list(extra.get("options") or []))
    return DnsConfig(tuple(_unique(servers)[:MAX_NAMESERVERS]), tuple(_unique(searches)[:MAX_SEARCHES]),
                     tuple(options))
