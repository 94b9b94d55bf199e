"""Nodes, Events and Leases: defaults, validation and kubectl's columns."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from ...machinery.quantity import is_quantity
from ...machinery.times import parse_rfc3339
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, validate_conditions
from .containers import canonical_quantities, validate_resource_list
from .names import is_cidr, is_label_value, is_qualified_name
from .podspec import TAINT_EFFECTS
from .printing import age, int_field, name_of, since

Obj = dict[str, Any]

NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                "was created.")
NODE_INFO_FIELDS = ("architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion",
                    "kubeletVersion", "machineID", "operatingSystem", "osImage", "systemUUID")
ADDRESS_TYPES = ("ExternalDNS", "ExternalIP", "Hostname", "InternalDNS", "InternalIP")
IP_ADDRESS_TYPES = ("InternalIP", "ExternalIP")  # the API server dials InternalIP: never a DNS name
ROLE_PREFIX = "node-role.kubernetes.io/"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def check_time(out: list[Cause], path: str, value: Any) -> None:
    """An RFC 3339 time (`2024-05-01T10:00:00.000000Z`) or absent."""
    if value is None:
        return
    if not isinstance(value, str) or not _RFC3339.match(value) or parse_rfc3339(value) is None:
        out.append(fe.invalid(path, value, "must be an RFC 3339 time, e.g. 2006-01-02T15:04:05.000000Z"))


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def node_roles(labels: Any) -> list[str]:
    roles = set()
    for key, value in fe.as_dict(labels).items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            roles.add(key[len(ROLE_PREFIX):])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


class NodeStrategy(ObjectStrategy):
    kind = "Node"

    def default(self, obj: Obj) -> None:
        child(obj, "spec")
        status = child(obj, "status")
        capacity = child(status, "capacity")
        if status.get("allocatable") is None:  # a bad quantity is reported once, under capacity
            status["allocatable"] = {k: v for k, v in capacity.items() if is_quantity(v)}
        canonical_quantities(status.get("capacity"))
        canonical_quantities(status.get("allocatable"))
        if status.get("conditions") is None:
            status["conditions"] = []
        info = status.get("nodeInfo")
        if isinstance(info, dict):
            for key in NODE_INFO_FIELDS:
                info.setdefault(key, "")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        for key in ("capacity", "allocatable"):
            out.extend(validate_resource_list(status.get(key), f"status.{key}", container=False)[0])
        cidrs = fe.as_list(spec.get("podCIDRs")) or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        for i, cidr in enumerate(cidrs):
            out.extend(fe.invalid(f"spec.podCIDRs[{i}]", cidr, m) for m in is_cidr(str(cidr)))
        seen: set[tuple[Any, Any]] = set()
        for i, taint in enumerate(fe.as_list(spec.get("taints"))):
            path, taint = f"spec.taints[{i}]", fe.as_dict(taint)
            key, effect = str(taint.get("key") or ""), fe.key(taint.get("effect"))
            out.extend(fe.invalid(f"{path}.key", key, m) for m in is_qualified_name(key))
            errs = is_label_value(str(taint.get("value") or ""))
            if errs:
                out.append(fe.invalid(f"{path}.value", taint.get("value"), ";".join(errs)))
            fe.check_enum(out, f"{path}.effect", effect, TAINT_EFFECTS, required_=True)
            if (key, effect) in seen:
                out.append(Cause(path, f"Duplicate value: {fe.show(taint)}: taints must be unique by key and "
                                          "effect pair", "FieldValueDuplicate"))
            seen.add((key, effect))
        out.extend(validate_conditions(status.get("conditions"), "status.conditions"))
        for i, address in enumerate(fe.as_list(status.get("addresses"))):
            address = fe.as_dict(address)
            if not address.get("address"):
                out.append(fe.required(f"status.addresses[{i}].address", ""))
            fe.check_enum(out, f"status.addresses[{i}].type", address.get("type"), ADDRESS_TYPES, required_=True)
            if address.get("type") in IP_ADDRESS_TYPES and address.get("address") and not _is_ip(address["address"]):
                out.append(fe.invalid(f"status.addresses[{i}].address", address["address"],
                                      f"must be a valid IP address for type {address['type']}"))
        endpoint = fe.as_dict(fe.as_dict(status.get("daemonEndpoints")).get("kubeletEndpoint"))
        port = endpoint.get("Port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
            out.append(fe.invalid("status.daemonEndpoints.kubeletEndpoint.Port", port,  # 0: no log server
                                  "must be between 0 and 65535, inclusive"))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Status", description="The status of the node"),
                Column("Roles", description="The roles of the node"), AGE,
                Column("Version", description="Kubelet Version reported by the node."),
                Column("Internal-IP", priority=1, description="List of addresses reachable to the node."),
                Column("External-IP", priority=1, description="List of addresses reachable to the node."),
                Column("OS-Image", priority=1, description="OS Image reported by the node."),
                Column("Kernel-Version", priority=1, description="Kernel Version reported by the node."),
                Column("Container-Runtime", priority=1, description="ContainerRuntime Version reported by the "
                                                                    "node.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        ready = [fe.as_dict(c) for c in fe.as_list(status.get("conditions")) if fe.as_dict(c).get("type") == "Ready"]
        states = ["Ready" if ready[-1].get("status") == "True" else "NotReady"] if ready else ["Unknown"]
        if spec.get("unschedulable") is True:
            states.append("SchedulingDisabled")
        info = fe.as_dict(status.get("nodeInfo"))
        addresses = [fe.as_dict(a) for a in fe.as_list(status.get("addresses"))]

        def address(kind: str) -> str:
            return next((str(a.get("address")) for a in addresses if a.get("type") == kind), "<none>")

        return [name_of(obj), ",".join(states), ",".join(node_roles(fe.as_dict(obj.get("metadata")).get("labels")))
                or "<none>", age(obj, now), info.get("kubeletVersion", ""), address("InternalIP"),
                address("ExternalIP"), info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
                info.get("containerRuntimeVersion") or "<unknown>"]


class EventStrategy(ObjectStrategy):
    kind = "Event"

    def default(self, obj: Obj) -> None:
        if obj.get("series") is None and obj.get("count") is None:
            obj["count"] = 1

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        involved = obj.get("involvedObject")
        if not isinstance(involved, dict) or not involved:
            return [fe.required("involvedObject", "")]
        namespace = fe.as_dict(obj.get("metadata")).get("namespace") or ""
        involved_ns = involved.get("namespace") or ""
        new_style = bool(obj.get("eventTime"))
        allowed = ("", "default", "kube-system") if new_style else ("", "default")
        if (involved_ns and involved_ns != namespace) or (not involved_ns and namespace not in allowed):
            out.append(fe.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        fe.check_enum(out, "type", obj.get("type"), ("Normal", "Warning"))
        fe.check_int(out, "count", obj.get("count"), minimum=0)
        for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
            check_time(out, key, obj.get(key))
        if new_style:
            for key, limit in (("reportingComponent", 128), ("reportingInstance", 128), ("action", 128),
                               ("reason", 128)):
                value = obj.get(key)
                if not value:
                    out.append(fe.required(key, ""))
                elif len(str(value)) > limit:
                    out.append(fe.invalid(key, "", f"can have at most {limit} characters"))
            if len(str(obj.get("message") or "")) > 1024:
                out.append(fe.invalid("message", "", "can have at most 1024 characters"))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Last Seen", description="The time at which the most recent occurrence of this event was "
                                                "recorded."),
                Column("Type", description="Type of this event (Normal, Warning)."),
                Column("Reason", description="The reason for the transition into the object's current status."),
                Column("Object", description="The object that this event is about."),
                Column("Subobject", priority=1, description="The field of the object the event is about."),
                Column("Source", priority=1, description="The component reporting this event."),
                Column("Message", description="A human-readable description of the status of this operation."),
                Column("First Seen", priority=1, description="The time at which the event was first recorded."),
                Column("Count", priority=1, description="The number of times this event has occurred."),
                Column("Name", priority=1, format="name", description="Name must be unique within a namespace.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        first = since(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else since(obj.get("eventTime"),
                                                                                               now)
        last = since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
        count = int_field(obj, "count")
        series = obj.get("series")
        if isinstance(series, dict):
            last = since(series.get("lastObservedTime"), now)
            count = int_field(series, "count")
        elif count == 0:
            count = 1
        involved = fe.as_dict(obj.get("involvedObject"))
        kind = str(involved.get("kind") or "").lower()
        target = f"{kind}/{involved['name']}" if involved.get("name") else kind
        source = fe.as_dict(obj.get("source"))
        component = source.get("component") or obj.get("reportingComponent") or ""
        instance = source.get("host") or obj.get("reportingInstance") or ""
        return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""),
                f"{component}, {instance}" if instance else component, str(obj.get("message") or "").strip(),
                first, count, name_of(obj)]


class LeaseStrategy(ObjectStrategy):
    kind = "Lease"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        for key in ("acquireTime", "renewTime"):  # MicroTime: stored in UTC with six digits, as Kubernetes does
            value = spec.get(key)
            if isinstance(value, str) and parse_rfc3339(value) is not None:
                moment = datetime.fromisoformat(value.replace("z", "Z")).astimezone(UTC)
                spec[key] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        spec = obj.get("spec")
        if spec is not None and not isinstance(spec, dict):
            return [fe.type_invalid("spec", spec, "must be an object")]
        spec = fe.as_dict(spec)
        for key in ("holderIdentity", "strategy", "preferredHolder"):
            fe.check_str(out, f"spec.{key}", spec.get(key))
        fe.check_int(out, "spec.leaseDurationSeconds", spec.get("leaseDurationSeconds"), minimum=1)
        fe.check_int(out, "spec.leaseTransitions", spec.get("leaseTransitions"), minimum=0)
        check_time(out, "spec.acquireTime", spec.get("acquireTime"))
        check_time(out, "spec.renewTime", spec.get("renewTime"))
        if spec.get("preferredHolder") and not spec.get("strategy"):
            out.append(fe.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Holder", description="The holder of the lease"), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), fe.as_dict(obj.get("spec")).get("holderIdentity") or "", age(obj, now)]
