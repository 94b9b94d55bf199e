"""Cluster DNS records: a pure function of (Services, Endpoints) -> the names of the cluster domain.

    records = build_records(services, endpoints, "cluster.local", address_of=service_alias)
    records.lookup("web.default.svc.cluster.local.", "A")   # -> Lookup(exists=True, answers=[...])

The names follow Kubernetes' DNS specification for Services (what CoreDNS's kubernetes plugin answers):
- `<svc>.<ns>.svc.<zone>` A: the Service's IPv4 cluster IPs (through `address_of`, which maps a cluster
  IP to the address the asker reaches it at); a headless Service (clusterIP None): one A record per
  ready endpoint address; an ExternalName Service: a CNAME to its externalName.
- `<hostname>.<svc>.<ns>.svc.<zone>` A, for endpoints of a headless Service that carry a hostname
  (StatefulSet pods: spec.hostname + spec.subdomain); endpoints without one get `<a-b-c-d>.<svc>...`
  (the dashed form of the endpoint's IP in the Endpoints object, whatever address is answered).
- `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV for every named port: the Service name as target (or one
  record per endpoint, named as above, for headless Services), priority 0, weight 100/count (CoreDNS).
Names above existing ones (`<ns>.svc.<zone>`, `svc.<zone>`) exist with no records (NODATA).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
TTL = 5  # seconds, CoreDNS kubernetes plugin's default


@dataclass(frozen=True)
class Record:
    name: str  # absolute, lower case, with the trailing dot
    rtype: str  # "A", "CNAME", "SRV"
    value: str  # an address, or a target name (absolute)
    port: int = 0  # SRV only
    weight: int = 0  # SRV only


@dataclass
class Lookup:
    exists: bool
    answers: list[Record] = field(default_factory=list)


def absolute(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


def _ipv4(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _ready_endpoints(endpoints: Obj | None) -> list[tuple[str, str, list[Obj]]]:
    """(ip, hostname, ports of its subset) of every ready endpoint address, in order, without repeats."""
    found: list[tuple[str, str, list[Obj]]] = []
    seen: set[str] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if isinstance(p, dict)]
        for address in subset.get("addresses") or []:
            ip = _ipv4((address or {}).get("ip"))
            if ip is None or ip in seen:
                continue
            seen.add(ip)
            found.append((ip, str((address or {}).get("hostname") or ""), ports))
    return found


@dataclass
class ClusterRecords:
    zone: str  # absolute, e.g. "cluster.local."
    by_name: dict[str, list[Record]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        entries = self.by_name.setdefault(record.name, [])
        if record not in entries:
            entries.append(record)

    def in_zone(self, name: str) -> bool:
        name = absolute(name)
        return name == self.zone or name.endswith("." + self.zone)

    def lookup(self, name: str, rtype: str) -> Lookup:
        """The records of `name` answering `rtype` (a CNAME answers every type, as in DNS); `exists`
        tells NODATA (the name exists, or is above one that does) from NXDOMAIN."""
        name = absolute(name)
        entries = self.by_name.get(name)
        if entries is None:
            suffix = "." + name
            return Lookup(name == self.zone or any(known.endswith(suffix) for known in self.by_name))
        cname = [r for r in entries if r.rtype == "CNAME"]
        if cname and rtype != "CNAME":
            return Lookup(True, cname)
        return Lookup(True, [r for r in entries if rtype in ("ANY", r.rtype)])


def _service_records(records: ClusterRecords, service: Obj, endpoints: Obj | None,
                     address_of: Callable[[str], str | None], endpoint_address_of: Callable[[str], str | None]) -> None:
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    if not name or not namespace:
        return
    base = f"{name}.{namespace}.svc.{records.zone}".lower()
    if spec.get("type") == "ExternalName":
        if spec.get("externalName"):
            records.add(Record(base, "CNAME", absolute(str(spec["externalName"]))))
        return
    cluster_ips = [str(ip) for ip in spec.get("clusterIPs") or [] if ip] or (
        [str(spec["clusterIP"])] if spec.get("clusterIP") else [])
    headless = "None" in cluster_ips
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not headless:
        addresses = [a for a in (address_of(ip) for ip in cluster_ips if _ipv4(ip)) if a]
        for address in addresses:
            records.add(Record(base, "A", address))
        named = [p for p in ports if p.get("name") and isinstance(p.get("port"), int)]
        for port in named:
            srv = f"_{port['name']}._{str(port.get('protocol') or 'TCP').lower()}.{base}"
            records.add(Record(srv, "SRV", base, int(port["port"]), 100))
        if not addresses:
            records.by_name.setdefault(base, [])
        return
    ready = _ready_endpoints(endpoints)
    records.by_name.setdefault(base, [])
    targets: list[tuple[str, list[Obj]]] = []
    for ip, hostname, subset_ports in ready:
        address = endpoint_address_of(ip) or ip
        records.add(Record(base, "A", address))
        target = f"{hostname.lower() or ip.replace('.', '-')}.{base}"
        records.add(Record(target, "A", address))
        targets.append((target, subset_ports))
    for port in ports:
        port_name = str(port.get("name") or "")
        if not port_name:
            continue
        protocol = str(port.get("protocol") or "TCP")
        srv = f"_{port_name}._{protocol.lower()}.{base}"
        matching = [(t, p) for t, subset_ports in targets for p in subset_ports
                    if str(p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol]
        for target, endpoint_port in matching:
            records.add(Record(srv, "SRV", target, int(endpoint_port.get("port") or 0), 100 // len(matching)))


def build_records(services: Iterable[Obj], endpoints: Iterable[Obj], zone: str = "cluster.local",
                  address_of: Callable[[str], str | None] = lambda ip: ip,
                  endpoint_address_of: Callable[[str], str | None] = lambda ip: ip) -> ClusterRecords:
    """Every record of the cluster domain `zone` for these Services and their Endpoints; cluster IPs are
    answered as `address_of` maps them, endpoint addresses as `endpoint_address_of` does (None: unchanged)."""
    records = ClusterRecords(absolute(zone))
    by_key = {((e.get("metadata") or {}).get("namespace"), (e.get("metadata") or {}).get("name")): e
              for e in endpoints}
    for service in services:
        meta = service.get("metadata") or {}
        _service_records(records, service, by_key.get((meta.get("namespace"), meta.get("name"))), address_of,
                         endpoint_address_of)
    return records
