"""The node's networking add-ons, set up before the agent starts: the pod network and the cluster DNS.

    networking = NodeNetworking(config, client, runtime, pod_network=True, host_dns_port=1053)
    await networking.start()    # host routes, the node's Podman network, the DNS server; sets config fields
    ...
    await networking.stop()

With `pod_network` (Podman runtimes only) the host gets the Service alias range and its guard
(pod_network.ensure_host_routes), the node's bridge network is created, and `config.pod_network` /
`config.cluster_dns` are set so that bridge pods join it and get `nameserver 10.96.0.10`. The DNS server
answers pods (on 10.96.0.10:53, Services at their aliases) and, with `host_dns_port`, the host on
127.0.0.1:<port> (Services at their cluster IPs).
"""

from __future__ import annotations

import logging
from typing import Any

from ..client import ApiClient
from .config import AgentConfig
from .dns_server import ClusterDns, DnsListener
from .pod_network import CLUSTER_DNS_ADDRESS, endpoint_alias, ensure_host_routes, node_network, service_alias

log = logging.getLogger(__name__)
DNS_PORT = 53


class NodeNetworking:
    def __init__(self, config: AgentConfig, client: ApiClient, runtime: Any, *, pod_network: bool,
                 host_dns_port: int = 0, dns_address: str = CLUSTER_DNS_ADDRESS) -> None:
        self.config, self.client, self.runtime = config, client, runtime
        self.pod_network, self.host_dns_port, self.dns_address = pod_network, host_dns_port, dns_address
        self.dns: ClusterDns | None = None

    @property
    def alias(self) -> Any:
        """What the service proxy should bind a second time (None without the pod network)."""
        return service_alias if self.pod_network else None

    @property
    def endpoint_alias(self) -> Any:
        """Where the service proxy should give headless Services' endpoints listeners (None: nowhere)."""
        return endpoint_alias if self.pod_network else None

    async def start(self) -> None:
        listeners: list[DnsListener] = []
        if self.pod_network:
            ensure_host_routes()
            network = node_network(self.config.node)
            await self.runtime.start()
            await self.runtime.ensure_network(network)
            self.config.pod_network = network.name
            self.config.cluster_dns = self.dns_address
            listeners.append(DnsListener(self.dns_address, DNS_PORT, service_alias, endpoint_alias))
            log.info("node %s: pods on %s (%s), cluster DNS %s", self.config.node, network.name, network.subnet,
                     self.dns_address)
        if self.host_dns_port:
            listeners.append(DnsListener("127.0.0.1", self.host_dns_port))
        if listeners:
            self.dns = ClusterDns(self.client, listeners, self.config.cluster_domain)
            await self.dns.start()

    async def stop(self) -> None:
        if self.dns is not None:
            await self.dns.stop()
