"""Services and Endpoints: defaults (type, ports, affinity, traffic policies), validation
(ports, names, nodePorts, clusterIP immutability) and kubectl's columns.

Allocating clusterIP and nodePorts is the server's job. Two helpers for updates:
`preserve_allocations(new, old)` keeps them where the update leaves them out (as `kubectl
replace` may), `drop_type_dependent_fields(new, old)` clears the ones a type change made
useless (as Kubernetes does).
"""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .containers import PROTOCOLS, validate_port_num_or_name
from .names import is_dns1123_label, is_dns1123_subdomain, is_ip
from .printing import age, format_labels, name_of
from .selectors import validate_labels

Obj = dict[str, Any]

TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
NODE_PORT_RANGE = (30000, 32767)
KUBELET_PORT = 10250
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                "was created.")


def _headless(spec: Obj) -> bool:
    return spec.get("clusterIP") == "None"


def needs_node_ports(spec: Obj) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def preserve_allocations(obj: Obj, old: Obj) -> None:
    """On update, keep the old clusterIP(s) and nodePorts where the new object leaves them empty."""
    spec, old_spec = fe.as_dict(obj.get("spec")), fe.as_dict(old.get("spec"))
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = list(fe.as_list(old_spec.get("clusterIPs"))) or [old_spec["clusterIP"]]
    if needs_node_ports(spec) and needs_node_ports(old_spec):
        def port_id(port: Any) -> tuple[Any, Any]:
            return fe.key(fe.as_dict(port).get("port")), fe.key(fe.as_dict(port).get("protocol", "TCP"))

        old_ports = {port_id(p): fe.as_dict(p).get("nodePort") for p in fe.as_list(old_spec.get("ports"))}
        for port in fe.as_list(spec.get("ports")):
            if isinstance(port, dict) and not port.get("nodePort"):
                node_port = old_ports.get(port_id(port))
                if node_port:
                    port["nodePort"] = node_port


def drop_type_dependent_fields(obj: Obj, old: Obj) -> None:
    """On update, clear what the new type no longer uses when it was merely carried over from the
    old object (as `kubectl apply` does when only `type` changes), like Kubernetes' strategy:
    the clusterIP(s) and IP families for ExternalName, nodePorts for ClusterIP/ExternalName."""
    spec, old_spec = fe.as_dict(obj.get("spec")), fe.as_dict(old.get("spec"))
    if spec.get("type") == "ExternalName" and old_spec.get("type") != "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            if key in spec and spec[key] == old_spec.get(key):
                del spec[key]
    if not needs_node_ports(spec) and needs_node_ports(old_spec):
        old_ports = {fe.key(fe.as_dict(p).get("nodePort")) for p in fe.as_list(old_spec.get("ports"))}
        for port in fe.as_list(spec.get("ports")):
            if isinstance(port, dict) and fe.key(port.get("nodePort")) in old_ports:
                del port["nodePort"]
        if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy") and not spec.get("externalIPs"):
            spec.pop("externalTrafficPolicy", None)


def port_string(ports: Any) -> str:
    """kubectl's PORT(S) cell: `80/TCP,443:30443/TCP`."""
    pieces = []
    for port in fe.as_list(ports):
        port = fe.as_dict(port)
        protocol = port.get("protocol") or "TCP"
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port')}/{protocol}")
    return ",".join(pieces)


def external_ip(obj: Obj) -> str:
    spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
    external = [str(ip) for ip in fe.as_list(spec.get("externalIPs"))]
    kind = spec.get("type") or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = fe.as_list(fe.as_dict(status.get("loadBalancer")).get("ingress"))
        lb = ",".join(str(fe.as_dict(i).get("ip") or fe.as_dict(i).get("hostname") or "") for i in ingress)
        if len(lb) > 16:
            lb = lb[:13] + "..."
        if external:
            return ",".join(([lb] if lb else []) + external)
        return lb or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


class ServiceStrategy(ObjectStrategy):
    kind = "Service"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        if not spec.get("type"):
            spec["type"] = "ClusterIP"
        if not spec.get("sessionAffinity"):
            spec["sessionAffinity"] = "None"
        if spec["sessionAffinity"] == "None":
            spec.pop("sessionAffinityConfig", None)
        elif spec["sessionAffinity"] == "ClientIP":
            client_ip = child(child(spec, "sessionAffinityConfig"), "clientIP")
            setdef(client_ip, "timeoutSeconds", 10800)
        for port in fe.as_list(spec.get("ports")):
            if isinstance(port, dict):
                if not port.get("protocol"):
                    port["protocol"] = "TCP"
                if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
                    port["targetPort"] = port["port"]
        kind = spec["type"]
        if kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and spec.get("externalIPs")):
            setdef(spec, "externalTrafficPolicy", "Cluster")
        if kind != "ExternalName":
            setdef(spec, "internalTrafficPolicy", "Cluster")
            if spec.get("clusterIP") and not spec.get("clusterIPs"):
                spec["clusterIPs"] = [spec["clusterIP"]]
            elif spec.get("clusterIPs") and not spec.get("clusterIP") and isinstance(spec["clusterIPs"], list):
                spec["clusterIP"] = spec["clusterIPs"][0]
            setdef(spec, "ipFamilyPolicy", "SingleStack")
            setdef(spec, "ipFamilies", ["IPv6" if ":" in str(spec.get("clusterIP") or "") else "IPv4"])
        if kind == "LoadBalancer":
            setdef(spec, "allocateLoadBalancerNodePorts", True)
        child(child(obj, "status"), "loadBalancer")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out: list[Cause] = []
        kind = spec.get("type")
        fe.check_enum(out, "spec.type", kind, TYPES, required_=True)
        ports = fe.as_list(spec.get("ports"))
        if not ports and not _headless(spec) and kind != "ExternalName":
            out.append(fe.required("spec.ports", ""))
        old_spec = fe.as_dict((old or {}).get("spec"))
        out.extend(self._validate_ports(spec, ports, old_spec))
        cluster_ip = spec.get("clusterIP")
        if kind == "ExternalName":
            carried = old is not None and cluster_ip == old_spec.get("clusterIP")  # the server drops it
            if (cluster_ip or spec.get("clusterIPs")) and not carried:
                out.append(fe.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
            cname = str(spec.get("externalName") or "").removesuffix(".")
            if not cname:
                out.append(fe.required("spec.externalName", ""))
            else:
                out.extend(fe.invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname))
        elif cluster_ip and cluster_ip != "None":
            out.extend(fe.invalid("spec.clusterIPs[0]", cluster_ip, m) for m in is_ip(str(cluster_ip)))
        if kind in ("NodePort", "LoadBalancer") and _headless(spec):
            out.append(fe.invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
        out.extend(validate_labels(spec.get("selector"), "spec.selector"))
        affinity = spec.get("sessionAffinity")
        fe.check_enum(out, "spec.sessionAffinity", affinity, ("ClientIP", "None"), required_=True)
        if affinity == "ClientIP":
            timeout = fe.as_dict(fe.as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
            fe.check_int(out, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout, minimum=1,
                         maximum=86400)
        elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
            out.append(fe.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
        for i, ip in enumerate(fe.as_list(spec.get("externalIPs"))):
            out.extend(fe.invalid(f"spec.externalIPs[{i}]", ip, m) for m in is_ip(str(ip)))
        fe.check_enum(out, "spec.externalTrafficPolicy", spec.get("externalTrafficPolicy"), ("Cluster", "Local"))
        fe.check_enum(out, "spec.internalTrafficPolicy", spec.get("internalTrafficPolicy"), ("Cluster", "Local"))
        if old is not None:
            old_ip = old_spec.get("clusterIP")
            if "ExternalName" not in (kind, old_spec.get("type")) and old_ip and cluster_ip and old_ip != cluster_ip:
                out.append(fe.invalid("spec.clusterIPs[0]", [cluster_ip], "may not change once set"))
        return out

    @staticmethod
    def _validate_ports(spec: Obj, ports: list[Any], old_spec: Obj) -> list[Cause]:
        out: list[Cause] = []
        # nodePorts carried over from a NodePort service are dropped by the server, not refused
        carried = {fe.key(fe.as_dict(p).get("nodePort")) for p in fe.as_list(old_spec.get("ports"))} \
            if needs_node_ports(old_spec) else set()
        names: set[str] = set()
        seen: set[tuple[Any, Any]] = set()
        node_ports: set[tuple[Any, Any]] = set()
        low, high = NODE_PORT_RANGE
        for i, port in enumerate(ports):
            path, port = f"spec.ports[{i}]", fe.as_dict(port)
            name = port.get("name")
            if len(ports) > 1 and not name:
                out.append(fe.required(f"{path}.name", ""))
            elif name:
                out.extend(fe.invalid(f"{path}.name", name, m) for m in is_dns1123_label(str(name)))
                if str(name) in names:
                    out.append(fe.duplicate(f"{path}.name", name))
                names.add(str(name))
            number, protocol = fe.key(port.get("port")), fe.key(port.get("protocol"))
            if number is None:
                out.append(fe.required(f"{path}.port", ""))
            fe.check_int(out, f"{path}.port", number, minimum=1, maximum=65535)
            if spec.get("type") == "LoadBalancer" and number == KUBELET_PORT:
                out.append(fe.invalid(f"{path}.port", number, f"may not expose port {KUBELET_PORT} externally "
                                                              "since it is used by kubelet"))
            fe.check_enum(out, f"{path}.protocol", protocol, PROTOCOLS, required_=True)
            out.extend(validate_port_num_or_name(port.get("targetPort"), f"{path}.targetPort"))
            node_port = fe.key(port.get("nodePort"))
            if node_port:
                if not needs_node_ports(spec):
                    if node_port not in carried:
                        out.append(fe.forbidden(f"{path}.nodePort", f"may not be used when `type` is "
                                                                    f"'{spec.get('type')}'"))
                elif not fe.is_int(node_port) or not low <= node_port <= high:
                    out.append(fe.invalid(f"{path}.nodePort", node_port, "provided port is not in the valid range. "
                                          f"The range of valid ports is {low}-{high}"))
                elif (protocol, node_port) in node_ports:
                    out.append(fe.duplicate(f"{path}.nodePort", node_port))
                node_ports.add((protocol, node_port))
            if (protocol, number) in seen:
                out.append(fe.duplicate(path, f"{number}/{protocol}"))
            seen.add((protocol, number))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Type", description="type determines how the Service is exposed."),
                Column("Cluster-IP", description="clusterIP is the IP address of the service."),
                Column("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                                                  "cluster will also accept traffic for this service."),
                Column("Port(s)", description="The list of ports that are exposed by this service."),
                AGE,
                Column("Selector", priority=1, description="Route service traffic to pods with label keys and "
                                                           "values matching this selector.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec = fe.as_dict(obj.get("spec"))
        ips = fe.as_list(spec.get("clusterIPs"))
        cluster_ip = (ips[0] if ips else None) or spec.get("clusterIP") or "<none>"
        return [name_of(obj), spec.get("type") or "ClusterIP", cluster_ip, external_ip(obj),
                port_string(spec.get("ports")) or "<none>", age(obj, now), format_labels(spec.get("selector"))]


def format_endpoints(obj: Obj, limit: int = 3) -> str:
    """kubectl's ENDPOINTS cell: `10.0.0.1:80,10.0.0.2:80 + 3 more...`, `<none>` without subsets."""
    subsets = fe.as_list(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count, more = 0, False
    for subset in subsets:
        subset = fe.as_dict(subset)
        addresses = [str(fe.as_dict(a).get("ip", "")) for a in fe.as_list(subset.get("addresses"))]
        ports = fe.as_list(subset.get("ports"))
        for port in ports or [None]:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                if port is None:
                    shown.append(ip)
                else:
                    number = fe.as_dict(port).get("port")
                    shown.append(f"[{ip}]:{number}" if ":" in ip else f"{ip}:{number}")
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


class EndpointsStrategy(ObjectStrategy):
    kind = "Endpoints"

    def default(self, obj: Obj) -> None:
        for subset in fe.as_list(obj.get("subsets")):
            for port in fe.as_list(fe.as_dict(subset).get("ports")):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        for i, subset in enumerate(fe.as_list(obj.get("subsets"))):
            path, subset = f"subsets[{i}]", fe.as_dict(subset)
            if not subset.get("addresses") and not subset.get("notReadyAddresses"):
                out.append(fe.required(path, "must specify `addresses` or `notReadyAddresses`"))
            for key in ("addresses", "notReadyAddresses"):
                for j, address in enumerate(fe.as_list(subset.get(key))):
                    apath, address = f"{path}.{key}[{j}]", fe.as_dict(address)
                    ip = address.get("ip")
                    if not ip:
                        out.append(fe.required(f"{apath}.ip", ""))
                    else:
                        out.extend(fe.invalid(f"{apath}.ip", ip, m) for m in is_ip(str(ip)))
                    if address.get("hostname"):
                        out.extend(fe.invalid(f"{apath}.hostname", address["hostname"], m)
                                   for m in is_dns1123_label(str(address["hostname"])))
                    if address.get("nodeName"):
                        out.extend(fe.invalid(f"{apath}.nodeName", address["nodeName"], m)
                                   for m in is_dns1123_subdomain(str(address["nodeName"])))
            ports = fe.as_list(subset.get("ports"))
            for j, port in enumerate(ports):
                ppath, port = f"{path}.ports[{j}]", fe.as_dict(port)
                if len(ports) > 1 and not port.get("name"):
                    out.append(fe.required(f"{ppath}.name", ""))
                elif port.get("name"):
                    name = str(port["name"])
                    out.extend(fe.invalid(f"{ppath}.name", name, m) for m in is_dns1123_label(name))
                if port.get("port") is None:
                    out.append(fe.required(f"{ppath}.port", ""))
                fe.check_int(out, f"{ppath}.port", port.get("port"), minimum=1, maximum=65535)
                fe.check_enum(out, f"{ppath}.protocol", port.get("protocol"), PROTOCOLS, required_=True)
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Endpoints", description="The set of all endpoints is the union of all subsets."), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), format_endpoints(obj), age(obj, now)]
