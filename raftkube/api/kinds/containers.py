"""Container defaults and validation (ports, env, resources, probes, mounts), as in a PodSpec."""

from __future__ import annotations

from typing import Any

from ...machinery.quantity import QUANTITY_ERROR, canonical_quantity, parse_quantity
from ..errors import Cause
from . import fielderr as fe
from .common import child, setdef_zero
from .names import (
    is_config_map_key,
    is_dns1123_subdomain,
    is_env_var_name,
    is_port_name,
    is_port_number,
    is_qualified_name,
)

Obj = dict[str, Any]

PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
RESOURCE_FIELD_REFS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory",
                       "requests.cpu", "requests.ephemeral-storage", "requests.memory")
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


# --- defaults --------------------------------------------------------------------------------

def image_tag(image: str) -> str:
    """The tag of an image reference ("latest" when it has neither tag nor digest)."""
    if "@" in image:
        image, _, _ = image.partition("@")
        last = image.rsplit("/", 1)[-1]
        return last.partition(":")[2]
    last = image.rsplit("/", 1)[-1]
    return last.partition(":")[2] or "latest"


def default_probe(probe: Obj) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        setdef_zero(probe, key, value)
    default_handler(probe)


def default_handler(handler: Obj) -> None:
    http = handler.get("httpGet")
    if isinstance(http, dict):
        setdef_zero(http, "path", "/")
        setdef_zero(http, "scheme", "HTTP")


def canonical_quantities(values: Any) -> None:
    """Quantities of a ResourceList printed as the API server stores them (`0.5` -> `500m`);
    invalid ones are left for validation to report."""
    if not isinstance(values, dict):
        return
    for name, value in list(values.items()):
        try:
            values[name] = canonical_quantity(value)
        except ValueError:
            pass


def canonical_resources(resources: Obj) -> None:
    canonical_quantities(resources.get("limits"))
    canonical_quantities(resources.get("requests"))


def default_container(container: Obj, host_network: bool = False) -> None:
    image = container.get("image")
    if isinstance(image, str) and image and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = "Always" if image_tag(image) == "latest" else "IfNotPresent"
    setdef_zero(container, "terminationMessagePath", "/dev/termination-log")
    setdef_zero(container, "terminationMessagePolicy", "File")
    canonical_resources(child(container, "resources"))
    for port in fe.as_list(container.get("ports")):
        if isinstance(port, dict):
            setdef_zero(port, "protocol", "TCP")
            if host_network and fe.is_int(port.get("containerPort")):
                setdef_zero(port, "hostPort", port["containerPort"])
    for env in fe.as_list(container.get("env")):
        field_ref = fe.as_dict(fe.as_dict(fe.as_dict(env).get("valueFrom")).get("fieldRef"))
        if field_ref:
            setdef_zero(field_ref, "apiVersion", "v1")
    for key in PROBES:
        if isinstance(container.get(key), dict):
            default_probe(container[key])
    lifecycle = fe.as_dict(container.get("lifecycle"))
    for key in ("postStart", "preStop"):
        if isinstance(lifecycle.get(key), dict):
            default_handler(lifecycle[key])


# --- validation ------------------------------------------------------------------------------

def validate_port_num_or_name(value: Any, path: str) -> list[Cause]:
    if fe.is_int(value):
        return [fe.invalid(path, value, msg) for msg in is_port_number(value)]
    if isinstance(value, str):
        if value.isdigit():
            return [fe.invalid(path, value, msg) for msg in is_port_number(int(value))]
        if not value:
            return [fe.required(path, "")]
        return [fe.invalid(path, value, msg) for msg in is_port_name(value)]
    if value is None:
        return [fe.required(path, "")]
    return [fe.type_invalid(path, value, "must be an integer or a string")]


def validate_handler(handler: Any, path: str, kinds: tuple[str, ...]) -> list[Cause]:
    """Exactly one handler among `kinds` (exec, httpGet, tcpSocket, grpc for probes; sleep for hooks)."""
    handler = fe.as_dict(handler)
    out: list[Cause] = []
    count = 0
    for kind in kinds:
        spec = handler.get(kind)
        if spec is None:
            continue
        if count:
            out.append(fe.forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        spec, kpath = fe.as_dict(spec), f"{path}.{kind}"
        if kind == "exec" and not fe.as_list(spec.get("command")):
            out.append(fe.required(f"{kpath}.command", ""))
        elif kind in ("httpGet", "tcpSocket"):
            out.extend(validate_port_num_or_name(spec.get("port"), f"{kpath}.port"))
            if kind == "httpGet":
                fe.check_enum(out, f"{kpath}.scheme", spec.get("scheme"), ("HTTP", "HTTPS"))
        elif kind == "grpc":
            port = spec.get("port")
            if port is None:
                out.append(fe.required(f"{kpath}.port", ""))
            fe.check_int(out, f"{kpath}.port", port, minimum=1, maximum=65535)
        elif kind == "sleep":
            fe.check_int(out, f"{kpath}.seconds", spec.get("seconds"), minimum=0)
    if not count:
        out.append(fe.required(path, "must specify a handler type"))
    return out


def validate_probe(probe: Any, path: str) -> list[Cause]:
    if probe is None:
        return []
    if not isinstance(probe, dict):
        return [fe.type_invalid(path, probe, "must be an object")]
    out = validate_handler(probe, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        fe.check_int(out, f"{path}.{key}", probe.get(key), minimum=0)
    fe.check_int(out, f"{path}.terminationGracePeriodSeconds", probe.get("terminationGracePeriodSeconds"), minimum=1)
    return out


def validate_ports(ports: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(fe.as_list(ports)):
        ppath, port = f"{path}[{i}]", fe.as_dict(port)
        name = port.get("name")
        if name:
            if fe.check_str(out, f"{ppath}.name", name):
                out.extend(fe.invalid(f"{ppath}.name", name, msg) for msg in is_port_name(name))
                if name in names:
                    out.append(fe.duplicate(f"{ppath}.name", name))
                names.add(name)
        container_port = port.get("containerPort")
        if container_port is None or container_port == 0:
            out.append(fe.required(f"{ppath}.containerPort", ""))
        else:
            fe.check_int(out, f"{ppath}.containerPort", container_port, minimum=1, maximum=65535)
        if port.get("hostPort"):
            fe.check_int(out, f"{ppath}.hostPort", port.get("hostPort"), minimum=1, maximum=65535)
        fe.check_enum(out, f"{ppath}.protocol", port.get("protocol"), PROTOCOLS, required_=True)
    return out


def _validate_key_ref(ref: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    name = ref.get("name") or ""
    out.extend(fe.invalid(f"{path}.name", name, msg) for msg in is_dns1123_subdomain(str(name)))
    key = ref.get("key")
    if not key:
        out.append(fe.required(f"{path}.key", ""))
    else:
        out.extend(fe.invalid(f"{path}.key", key, msg) for msg in is_config_map_key(str(key)))
    return out


def validate_field_ref(ref: Obj, path: str, allowed: tuple[str, ...]) -> list[Cause]:
    if not ref.get("apiVersion"):
        return [fe.required(f"{path}.apiVersion", "")]
    field_path = ref.get("fieldPath")
    if not field_path:
        return [fe.required(f"{path}.fieldPath", "")]
    field_path = str(field_path)
    if "[" in field_path and field_path.endswith("]"):
        base, _, key = field_path[:-1].partition("[")
        key = key.strip("'\"")
        if base in ("metadata.labels", "metadata.annotations"):
            return [fe.invalid(f"{path}.fieldPath", key, msg) for msg in is_qualified_name(key)]
        return [fe.invalid(f"{path}.fieldPath", base, "does not support subscript")]
    if field_path not in allowed:
        return [fe.not_supported(f"{path}.fieldPath", field_path, allowed)]
    return []


def validate_env(env: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, var in enumerate(fe.as_list(env)):
        vpath, var = f"{path}[{i}]", fe.as_dict(var)
        name = var.get("name")
        if not name:
            out.append(fe.required(f"{vpath}.name", ""))
        elif fe.check_str(out, f"{vpath}.name", name):
            out.extend(fe.invalid(f"{vpath}.name", name, msg) for msg in is_env_var_name(name))
        fe.check_str(out, f"{vpath}.value", var.get("value"))
        value_from = var.get("valueFrom")
        if value_from is None:
            continue
        fpath, value_from = f"{vpath}.valueFrom", fe.as_dict(value_from)
        sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
                   if value_from.get(k) is not None]
        for key in sources:
            ref = fe.as_dict(value_from[key])
            if key == "fieldRef":
                out.extend(validate_field_ref(ref, f"{fpath}.fieldRef", ENV_FIELD_PATHS))
            elif key == "resourceFieldRef":
                if not ref.get("resource"):
                    out.append(fe.required(f"{fpath}.resourceFieldRef.resource", ""))
                else:
                    fe.check_enum(out, f"{fpath}.resourceFieldRef.resource", ref.get("resource"), RESOURCE_FIELD_REFS)
            else:
                out.extend(_validate_key_ref(ref, f"{fpath}.{key}"))
        if not sources:
            out.append(fe.invalid(fpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                  "`configMapKeyRef` or `secretKeyRef`"))
        elif var.get("value"):
            out.append(fe.invalid(fpath, "", "may not be specified when `value` is not empty"))
        elif len(sources) > 1:
            out.append(fe.invalid(fpath, "", "may not have more than one field specified at a time"))
    return out


def validate_env_from(env_from: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, source in enumerate(fe.as_list(env_from)):
        spath, source = f"{path}[{i}]", fe.as_dict(source)
        prefix = source.get("prefix")
        if prefix and fe.check_str(out, f"{spath}.prefix", prefix):
            out.extend(fe.invalid(f"{spath}.prefix", prefix, msg) for msg in is_env_var_name(prefix))
        refs = [k for k in ("configMapRef", "secretRef") if source.get(k) is not None]
        for key in refs:
            name = str(fe.as_dict(source[key]).get("name") or "")
            out.extend(fe.invalid(f"{spath}.{key}.name", name, msg) for msg in is_dns1123_subdomain(name))
        if not refs:
            out.append(fe.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(refs) > 1:
            out.append(fe.invalid(path, "", "may not have more than one field specified at a time"))
    return out


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def validate_resource_list(values: Any, path: str, *, container: bool) -> tuple[list[Cause], dict[str, Any]]:
    """Checks names and quantities of a ResourceList; returns (causes, parsed values by name)."""
    out: list[Cause] = []
    parsed: dict[str, Any] = {}
    if values is None:
        return out, parsed
    if not isinstance(values, dict):
        return [fe.type_invalid(path, values, "must be a map of resource names to quantities")], parsed
    for name, value in values.items():
        rpath = f"{path}[{name}]"
        name = str(name)
        name_errs = [fe.invalid(rpath, name, msg) for msg in is_qualified_name(name)]
        if not name_errs and container and "/" not in name and name not in STANDARD_RESOURCES \
                and not name.startswith("hugepages-"):
            name_errs.append(fe.invalid(rpath, name, "must be a standard resource for containers"))
        out.extend(name_errs)
        try:
            quantity = parse_quantity(value)
        except ValueError:
            out.append(fe.invalid(rpath, value, QUANTITY_ERROR))
            continue
        if quantity < 0:
            out.append(fe.invalid(rpath, value, "must be greater than or equal to 0"))
        elif not _is_native(name) and quantity != quantity.to_integral_value():
            out.append(fe.invalid(rpath, value, "must be an integer"))
        parsed[name] = quantity
    return out, parsed


def validate_resources(resources: Any, path: str) -> list[Cause]:
    resources = fe.as_dict(resources)
    limit_errs, limits = validate_resource_list(resources.get("limits"), f"{path}.limits", container=True)
    request_errs, requests = validate_resource_list(resources.get("requests"), f"{path}.requests", container=True)
    out = limit_errs + request_errs
    raw_limits = fe.as_dict(resources.get("limits"))
    raw_requests = fe.as_dict(resources.get("requests"))
    for name, request in requests.items():
        if name in limits:
            limit = limits[name]
            if request != limit and not _overcommit_allowed(name):
                out.append(fe.invalid(f"{path}.requests", str(raw_requests[name]),
                                      f"must be equal to {name} limit of {raw_limits[name]}"))
            elif request > limit:
                out.append(fe.invalid(f"{path}.requests", str(raw_requests[name]),
                                      f"must be less than or equal to {name} limit of {raw_limits[name]}"))
        elif not _overcommit_allowed(name):
            out.append(fe.required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    return out


def validate_volume_mounts(mounts: Any, path: str, volumes: set[str]) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, mount in enumerate(fe.as_list(mounts)):
        mpath, mount = f"{path}[{i}]", fe.as_dict(mount)
        name, mount_path = fe.key(mount.get("name")), fe.key(mount.get("mountPath"))
        if not name:
            out.append(fe.required(f"{mpath}.name", ""))
        elif name not in volumes:
            out.append(fe.not_found(f"{mpath}.name", name))
        if not mount_path:
            out.append(fe.required(f"{mpath}.mountPath", ""))
        elif mount_path in seen:
            out.append(fe.invalid(f"{mpath}.mountPath", mount_path, "must be unique"))
        if isinstance(mount_path, str):
            seen.add(mount_path)
        sub_path = mount.get("subPath")
        if sub_path:
            out.extend(validate_local_path(sub_path, f"{mpath}.subPath"))
            if mount.get("subPathExpr"):
                out.append(fe.invalid(f"{mpath}.subPathExpr", mount["subPathExpr"],
                                      "subPathExpr and subPath are mutually exclusive"))
    return out


def validate_local_path(value: Any, path: str) -> list[Cause]:
    """A relative path that never steps up (`..`)."""
    if not isinstance(value, str):
        return [fe.type_invalid(path, value, "must be a string")]
    out = []
    if value.startswith("/"):
        out.append(fe.invalid(path, value, "must be a relative path"))
    if ".." in value.split("/"):
        out.append(fe.invalid(path, value, "must not contain '..'"))
    return out
