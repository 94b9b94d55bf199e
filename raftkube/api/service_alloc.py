"""ClusterIP and NodePort allocation for Services, atomic with the Service write.

Each allocated address or port is a key under `/registry/core/allocations/`; the Service
write carries `create_revision == 0` compares and puts for the keys it takes (and deletes
for those it gives back), so two Services can never hold the same one, and a failed write
holds none. ClusterIPs come from a loopback range (127.96.0.0/16 by default) so that the
node proxy can serve them without touching any other network. The range's first address is
kept for the `kubernetes` Service (raftkube/api/kubernetes_service.py), as Kubernetes does.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from ..store import Compare, DeleteOp, PutOp
from .errors import Cause, invalid
from .storage import Extras

Obj = dict[str, Any]
ALLOC_PREFIX = b"/registry/core/allocations/"
CLUSTER_IP_RANGE = ipaddress.ip_network("127.96.0.0/16")
NODE_PORT_RANGE = range(30000, 32768)
_rng = random.SystemRandom()


def ip_key(ip: str) -> bytes:
    return ALLOC_PREFIX + b"clusterips/" + ip.encode()


def port_key(port: int) -> bytes:
    return ALLOC_PREFIX + b"nodeports/" + str(port).encode()


def _owner(svc: Obj) -> bytes:
    meta = svc["metadata"]
    return f"{meta.get('namespace')}/{meta['name']}".encode()


def wants_cluster_ip(spec: Obj) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


def wants_node_ports(spec: Obj) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _random_ip() -> str:
    # the first address (KUBERNETES_SERVICE_IP) is the `kubernetes` Service's: only given when asked for
    first = int(CLUSTER_IP_RANGE.network_address) + 2
    last = int(CLUSTER_IP_RANGE.broadcast_address) - 1
    return str(ipaddress.ip_address(_rng.randint(first, last)))


def _port_id(port: Obj) -> tuple[Any, str]:
    return port.get("port"), port.get("protocol", "TCP")


class Allocation:
    """The allocations one Service write makes; `explicit` ones were asked for by the user."""

    def __init__(self) -> None:
        self.extras = Extras()
        self.explicit: list[tuple[str, bytes]] = []  # (field path, key)

    def take(self, key: bytes, owner: bytes, path: str | None) -> None:
        self.extras.compares.append(Compare(key, "create", "=", 0))
        self.extras.ops.append(PutOp(key, owner))
        if path is not None:
            self.explicit.append((path, key))

    def release(self, key: bytes) -> None:
        self.extras.ops.append(DeleteOp(key))


def plan_create(svc: Obj) -> Allocation:
    spec = svc.setdefault("spec", {})
    alloc = Allocation()
    owner = _owner(svc)
    if wants_cluster_ip(spec):
        asked = spec.get("clusterIP")
        if asked:
            _check_ip(svc, asked)
        ip = asked or _random_ip()
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        alloc.take(ip_key(ip), owner, "spec.clusterIP" if asked else None)
    _plan_node_ports(svc, {}, alloc, owner)
    return alloc


def plan_update(new: Obj, old: Obj) -> Allocation:
    spec, old_spec = new.setdefault("spec", {}), old.get("spec", {})
    alloc = Allocation()
    owner = _owner(new)
    old_ip = old_spec.get("clusterIP")
    if wants_cluster_ip(spec):
        if not spec.get("clusterIP") and old_ip and old_ip != "None":
            spec["clusterIP"], spec["clusterIPs"] = old_ip, old_spec.get("clusterIPs", [old_ip])
        elif spec.get("clusterIP") and spec["clusterIP"] != old_ip:
            raise invalid("Service", new["metadata"]["name"],
                          [Cause("spec.clusterIP", "field is immutable")])
        if not spec.get("clusterIP"):
            ip = _random_ip()
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            alloc.take(ip_key(ip), owner, None)
    elif old_ip and old_ip != "None":
        alloc.release(ip_key(old_ip))
    old_ports = {_port_id(p): p["nodePort"] for p in old_spec.get("ports", []) if p.get("nodePort")}
    kept = _plan_node_ports(new, old_ports, alloc, owner)
    for port in set(old_ports.values()) - kept:
        alloc.release(port_key(port))
    return alloc


def plan_delete(svc: Obj) -> Extras:
    spec = svc.get("spec", {})
    extras = Extras()
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        extras.ops.append(DeleteOp(ip_key(ip)))
    for port in spec.get("ports", []):
        if port.get("nodePort"):
            extras.ops.append(DeleteOp(port_key(port["nodePort"])))
    return extras


def _check_ip(svc: Obj, ip: str) -> None:
    try:
        inside = ipaddress.ip_address(ip) in CLUSTER_IP_RANGE
    except ValueError:
        inside = False
    if not inside:
        raise invalid("Service", svc["metadata"]["name"], [Cause(
            "spec.clusterIP", f"Invalid value: {ip!r}: provided IP is not in the valid range {CLUSTER_IP_RANGE}")])


def _plan_node_ports(svc: Obj, old_ports: dict[tuple[Any, str], int], alloc: Allocation, owner: bytes) -> set[int]:
    """Give every port of a NodePort Service a nodePort; returns the old ones still in use."""
    spec = svc["spec"]
    ports = spec.get("ports") or []
    if not wants_node_ports(spec):
        for port in ports:
            port.pop("nodePort", None)
        return set()
    kept: set[int] = set()
    in_use = set(old_ports.values())
    for i, port in enumerate(ports):
        asked = port.get("nodePort")
        previous = old_ports.get(_port_id(port))
        if asked is None and previous is not None and previous not in kept:
            port["nodePort"] = previous
            kept.add(previous)
            continue
        if asked is not None:
            if asked not in NODE_PORT_RANGE:
                raise invalid("Service", svc["metadata"]["name"], [Cause(
                    f"spec.ports[{i}].nodePort",
                    f"Invalid value: {asked}: provided port is not in the valid range {NODE_PORT_RANGE.start}-"
                    f"{NODE_PORT_RANGE.stop - 1}")])
            if asked in in_use and asked not in kept:
                kept.add(asked)
                continue
            alloc.take(port_key(asked), owner, f"spec.ports[{i}].nodePort")
            kept.add(asked)
            continue
        choice = _rng.choice(NODE_PORT_RANGE)
        while choice in kept or choice in in_use:
            choice = _rng.choice(NODE_PORT_RANGE)
        port["nodePort"] = choice
        alloc.take(port_key(choice), owner, None)
        kept.add(choice)
    return kept & in_use
