"""Container environment: env and envFrom resolved against ConfigMaps, Secrets and the pod's own
fields, and Kubernetes' `$(VAR)` expansion (in env values, command and args).

Everything here is pure: the ConfigMaps and Secrets a pod refers to are fetched beforehand
(`referenced_objects`) and passed in as a dict keyed by (kind, name); a missing object or key
that is not `optional` raises `ConfigError`, which the pod worker turns into the waiting reason
CreateContainerConfigError.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]
Ref = tuple[str, str]  # (kind, name): ("ConfigMap", "app-config") or ("Secret", "db")

# the `kubernetes` Service of `default`, fetched for every pod: its address is in every container's environment
MASTER_SERVICE: Ref = ("Service", "kubernetes")

_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")


class ConfigError(Exception):
    """A container cannot be configured (CreateContainerConfigError); the message names what is missing."""

    def __init__(self, message: str, reason: str = "CreateContainerConfigError") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """`$(VAR)` -> its value when defined, left as written when not; `$$` -> `$` (Kubernetes' rules)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:
                out.append(text[i:])
                return "".join(out)
            name = text[i + 2:end]
            out.append(mapping[name] if name in mapping else text[i:end + 1])
            i = end + 1
        else:
            out.append(ch)
            out.append(nxt)
            i += 2
    return "".join(out)


def object_data(obj: Obj) -> dict[str, str]:
    """The key -> text of a ConfigMap (data + binaryData) or a Secret (base64 data + stringData)."""
    out: dict[str, str] = {}
    if obj.get("kind") == "Secret":
        for key, value in (obj.get("data") or {}).items():
            out[key] = base64.b64decode(value).decode(errors="replace")
        out.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        return out
    for key, value in (obj.get("binaryData") or {}).items():
        out[key] = base64.b64decode(value).decode(errors="replace")
    out.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
    return out


def object_bytes(obj: Obj) -> dict[str, bytes]:
    """Like object_data, but the raw bytes (for files in configMap/secret volumes)."""
    out: dict[str, bytes] = {}
    binary_field = "data" if obj.get("kind") == "Secret" else "binaryData"
    for key, value in (obj.get(binary_field) or {}).items():
        out[key] = base64.b64decode(value)
    text_field = "stringData" if obj.get("kind") == "Secret" else "data"
    out.update({k: str(v).encode() for k, v in (obj.get(text_field) or {}).items()})
    return out


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def referenced_objects(pod: Obj) -> set[Ref]:
    """Every ConfigMap and Secret the pod's env, envFrom and volumes name."""
    refs: set[Ref] = set()
    for container in _containers(pod):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if source.get("configMapKeyRef"):
                refs.add(("ConfigMap", source["configMapKeyRef"].get("name", "")))
            if source.get("secretKeyRef"):
                refs.add(("Secret", source["secretKeyRef"].get("name", "")))
        for env_from in container.get("envFrom") or []:
            if env_from.get("configMapRef"):
                refs.add(("ConfigMap", env_from["configMapRef"].get("name", "")))
            if env_from.get("secretRef"):
                refs.add(("Secret", env_from["secretRef"].get("name", "")))
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("configMap"):
            refs.add(("ConfigMap", volume["configMap"].get("name", "")))
        if volume.get("secret"):
            refs.add(("Secret", volume["secret"].get("secretName", "")))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("configMap"):
                refs.add(("ConfigMap", source["configMap"].get("name", "")))
            if source.get("secret"):
                refs.add(("Secret", source["secret"].get("name", "")))
    return refs


def field_value(pod: Obj, path: str, pod_ip: str, host_ip: str) -> str:
    """A downward-API fieldRef value."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"), "status.podIP": pod_ip,
        "status.podIPs": pod_ip, "status.hostIP": host_ip, "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    match = _LABEL_REF.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def _key_ref(ref: Obj, kind: str, objects: Mapping[Ref, Obj | None], var: str) -> str | None:
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
    obj = objects.get((kind, name))
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found (needed by env var {var})')
    data = object_data(obj)
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {name} (needed by env var {var})")
    return data[key]


def service_env(service: Obj | None) -> dict[str, str]:
    """Docker-link style variables of a Service (KUBERNETES_SERVICE_HOST, KUBERNETES_PORT_443_TCP, ...)."""
    spec = (service or {}).get("spec") or {}
    host, ports = spec.get("clusterIP"), [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not host or host == "None" or not ports:
        return {}
    prefix = str((service or {}).get("metadata", {}).get("name", "")).upper().replace("-", "_")
    out = {f"{prefix}_SERVICE_HOST": str(host), f"{prefix}_SERVICE_PORT": str(ports[0].get("port"))}
    for port in ports:
        if port.get("name"):
            out[f"{prefix}_SERVICE_PORT_{str(port['name']).upper().replace('-', '_')}"] = str(port.get("port"))
    first = ports[0]
    out[f"{prefix}_PORT"] = f"{str(first.get('protocol') or 'TCP').lower()}://{host}:{first.get('port')}"
    for port in ports:
        protocol, number = str(port.get("protocol") or "TCP"), port.get("port")
        base = f"{prefix}_PORT_{number}_{protocol.upper()}"
        out.update({base: f"{protocol.lower()}://{host}:{number}", f"{base}_PROTO": protocol.lower(),
                    f"{base}_PORT": str(number), f"{base}_ADDR": str(host)})
    return out


def resolve_env(pod: Obj, container: Obj, objects: Mapping[Ref, Obj | None], pod_ip: str,
                host_ip: str) -> list[tuple[str, str]]:
    """The container's environment in Kubernetes' order: the `kubernetes` Service's variables (when
    `objects` has it), then envFrom, then env (later wins), each env value expanded with the
    variables defined before it."""
    values: dict[str, str] = service_env(objects.get(MASTER_SERVICE))
    for env_from in container.get("envFrom") or []:
        prefix = env_from.get("prefix") or ""
        for field_name, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = env_from.get(field_name)
            if not ref:
                continue
            obj = objects.get((kind, ref.get("name", "")))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found (needed by envFrom)')
            for key, value in object_data(obj).items():
                values[prefix + key] = value
    for env in container.get("env") or []:
        name = env.get("name", "")
        source = env.get("valueFrom")
        if not source:
            values[name] = expand(str(env.get("value") or ""), values)
            continue
        value: str | None
        if source.get("configMapKeyRef"):
            value = _key_ref(source["configMapKeyRef"], "ConfigMap", objects, name)
        elif source.get("secretKeyRef"):
            value = _key_ref(source["secretKeyRef"], "Secret", objects, name)
        elif source.get("fieldRef"):
            value = field_value(pod, source["fieldRef"].get("fieldPath", ""), pod_ip, host_ip)
        elif source.get("resourceFieldRef"):
            value = resource_field(container, source["resourceFieldRef"])
        else:
            raise ConfigError(f"env var {name}: unsupported valueFrom")
        if value is not None:
            values[name] = value
    return list(values.items())


def resource_field(container: Obj, ref: Obj) -> str:
    """limits.cpu / requests.memory ... as a plain number (cpu in cores rounded up, memory in bytes)."""
    from ..machinery.quantity import parse_quantity

    bag, _, resource = str(ref.get("resource", "")).partition(".")
    raw = ((container.get("resources") or {}).get(bag) or {}).get(resource)
    if raw is None:
        return "0"
    value = parse_quantity(raw)
    divisor = parse_quantity(ref.get("divisor") or "1")
    result = -(-value // divisor) if divisor else value
    return str(int(result))


def expand_command(container: Obj, env: list[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """command and args with `$(VAR)` expanded from the resolved environment."""
    mapping = dict(env)
    command = tuple(expand(str(part), mapping) for part in container.get("command") or [])
    args = tuple(expand(str(part), mapping) for part in container.get("args") or [])
    return command, args
