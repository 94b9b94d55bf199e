"""The service proxy's table: a pure function of (Services, Endpoints) -> the listeners wanted and their backends.

For every TCP port of a Service with a cluster IP there is one listener on `clusterIP:port` (on each
address of `spec.clusterIPs`), and for NodePort and LoadBalancer Services one more on
`<nodeport_address>:<nodePort>`. Its backends are the ready addresses (`subsets[].addresses[]`,
never `notReadyAddresses`) of the Endpoints object of the same namespace and name, each with the
port of its subset whose name is the Service port's name (a named targetPort was resolved by
whoever wrote the Endpoints). Services with a selector get theirs from the Endpoints controller,
Services without one use the Endpoints the user wrote; both are read the same way here.

Skipped: UDP and SCTP ports (the proxy forwards TCP only), headless Services (clusterIP None) and
ExternalName Services (no listener at all), externalIPs and load-balancer ingress addresses.
A listener whose Endpoints are missing or empty is still wanted, with no backends: the proxy
rejects its connections, as kube-proxy does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
DEFAULT_NODEPORT_ADDRESS = "127.0.0.1"


@dataclass(frozen=True, order=True)
class Listener:
    """One listening socket the proxy wants: where it binds, and which Service port it serves."""

    address: str
    port: int
    protocol: str
    namespace: str
    service: str
    port_name: str = ""

    def __str__(self) -> str:
        name = f"{self.namespace}/{self.service}" + (f":{self.port_name}" if self.port_name else "")
        return f"{self.address}:{self.port}/{self.protocol} ({name})"


@dataclass(frozen=True, order=True)
class Backend:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


ProxyTable = dict[Listener, tuple[Backend, ...]]
Alias = Callable[[str], str | None]  # a cluster IP -> a second address its listeners also bind


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def cluster_addresses(spec: Obj) -> list[str]:
    """The addresses a Service's cluster listeners bind: none for headless and ExternalName Services."""
    if spec.get("type") == "ExternalName":
        return []
    ips = [str(ip) for ip in spec.get("clusterIPs") or [] if ip]
    if not ips and spec.get("clusterIP"):
        ips = [str(spec["clusterIP"])]
    return [] if "None" in ips else ips


def endpoint_backends(endpoints: Obj | None, port_name: str, protocol: str = "TCP") -> tuple[Backend, ...]:
    """The ready (ip, port) pairs of an Endpoints object for one Service port name, in order, without repeats."""
    found: list[Backend] = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if isinstance(p, dict)]
        number = next((_as_int(p.get("port")) for p in ports
                       if str(p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol), None)
        if number is None:
            continue
        for address in subset.get("addresses") or []:
            ip = (address or {}).get("ip")
            backend = Backend(str(ip), number) if ip else None
            if backend is not None and backend not in found:
                found.append(backend)
    return tuple(found)


def headless_listeners(service: Obj, endpoints: Obj | None, endpoint_alias: Alias) -> ProxyTable:
    """For a headless Service: one listener per ready endpoint and TCP port on the endpoint's alias (the
    address bridge pods reach that pod at, raftkube.node.pod_network), forwarding to that endpoint only."""
    namespace, name = _meta(service)
    table: ProxyTable = {}
    for port in (service.get("spec") or {}).get("ports") or []:
        if not isinstance(port, dict) or (port.get("protocol") or "TCP") != "TCP":
            continue
        port_name = str(port.get("name") or "")
        for backend in endpoint_backends(endpoints, port_name):
            address = endpoint_alias(backend.ip)
            if address and address != backend.ip:
                table[Listener(address, backend.port, "TCP", namespace, name, port_name)] = (backend,)
    return table


def service_listeners(service: Obj, endpoints: Obj | None,
                      nodeport_address: str = DEFAULT_NODEPORT_ADDRESS, alias: Alias | None = None,
                      endpoint_alias: Alias | None = None) -> ProxyTable:
    """The listeners one Service wants, each with its backends taken from `endpoints`; with `alias`, one
    more per cluster address on the address pods reach it at (raftkube.node.pod_network); with
    `endpoint_alias`, a headless Service's `headless_listeners`."""
    namespace, name = _meta(service)
    spec = service.get("spec") or {}
    addresses = cluster_addresses(spec)
    if not addresses:
        headless = spec.get("type") != "ExternalName" and "None" in (spec.get("clusterIPs") or [spec.get("clusterIP")])
        return headless_listeners(service, endpoints, endpoint_alias) if headless and endpoint_alias else {}
    if alias is not None:
        addresses += [a for a in (alias(ip) for ip in addresses) if a and a not in addresses]
    node_ports = spec.get("type") in ("NodePort", "LoadBalancer")
    table: ProxyTable = {}
    for port in spec.get("ports") or []:
        if not isinstance(port, dict) or (port.get("protocol") or "TCP") != "TCP":
            continue  # UDP and SCTP are not forwarded
        port_name = str(port.get("name") or "")
        backends = endpoint_backends(endpoints, port_name)
        number = _as_int(port.get("port"))
        binds = [(address, number) for address in addresses]
        if node_ports:
            binds.append((nodeport_address, _as_int(port.get("nodePort"))))
        for address, bind_port in binds:
            if bind_port:
                table[Listener(address, bind_port, "TCP", namespace, name, port_name)] = backends
    return table


def plan(services: Iterable[Obj], endpoints: Iterable[Obj], nodeport_address: str = DEFAULT_NODEPORT_ADDRESS,
         alias: Alias | None = None, endpoint_alias: Alias | None = None) -> ProxyTable:
    """Every listener the proxy wants for these Services and Endpoints, with its backends.

    Two Services can never want the same address and port (the API server allocates cluster IPs and
    nodePorts); should they anyway, the first in (namespace, name) order keeps it."""
    by_name = {_meta(e): e for e in endpoints}
    table: ProxyTable = {}
    taken: set[tuple[str, int]] = set()
    for service in sorted(services, key=_meta):
        for listener, backends in service_listeners(service, by_name.get(_meta(service)), nodeport_address,
                                                        alias, endpoint_alias).items():
            if (listener.address, listener.port) not in taken:
                taken.add((listener.address, listener.port))
                table[listener] = backends
    return table
