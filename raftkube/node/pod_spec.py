"""A Kubernetes Pod turned into the runtime's `SandboxSpec` and `ContainerSpec`s.

The container hash (CONTAINER_HASH_LABEL) is taken from the container as written in the pod
spec, as the kubelet does: a changed image, command or env restarts the container, while a
changed ConfigMap value does not, and a restarted agent computes the same hash for an
unchanged pod. The restart count a container was started with is kept in a label too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..machinery.quantity import parse_quantity
from .env import Ref, expand_command, resolve_env
from .pod_dns import ClusterDnsSettings, node_resolv_conf, pod_dns
from .runtime import CONTAINER_HASH_LABEL, ContainerSpec, SandboxSpec
from .security_context import security_settings
from .volumes import container_mounts

Obj = dict[str, Any]
RESTART_COUNT_LABEL = "raftkube.io/restart-count"
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def container_hash(container: Obj) -> str:
    return hashlib.sha256(json.dumps(container, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def probe_port(probe: Obj, container: Obj) -> int | None:
    """The numeric port an httpGet/tcpSocket probe targets (a named port resolved by the container's ports)."""
    handler = probe.get("httpGet") or probe.get("tcpSocket")
    if not handler:
        return None
    port = handler.get("port")
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return int(declared.get("containerPort") or 0) or None
    return None


def pod_ports(pod: Obj) -> tuple[int, ...]:
    """Every TCP containerPort and numeric probe port of the pod's containers, sorted."""
    ports: set[int] = set()
    spec = pod.get("spec") or {}
    for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        for declared in container.get("ports") or []:
            if (declared.get("protocol") or "TCP") == "TCP" and declared.get("containerPort"):
                ports.add(int(declared["containerPort"]))
        for key in PROBES:
            probe = container.get(key)
            if isinstance(probe, dict):
                port = probe_port(probe, container)
                if port:
                    ports.add(port)
    return tuple(sorted(ports))


def sandbox_spec(pod: Obj, node: str, pod_ip: str, network: str | None = None,
                 cluster_dns: ClusterDnsSettings | None = None) -> SandboxSpec:
    """The pod's sandbox: bridge pods join `network` (None: the runtime's default) and get the cluster's
    resolv.conf per their dnsPolicy (pod_dns)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    host_network = bool(spec.get("hostNetwork"))
    return SandboxSpec(uid=meta["uid"], namespace=meta.get("namespace", "default"), name=meta["name"], node=node,
                       pod_ip=pod_ip, host_network=host_network, ports=pod_ports(pod),
                       hostname=spec.get("hostname") or meta["name"], network=None if host_network else network,
                       dns=pod_dns(pod, cluster_dns, node_resolv_conf()))


def _cpu_millis(value: Any) -> int | None:
    if value is None:
        return None
    return int(-(-parse_quantity(value) * 1000 // 1))


def _memory_bytes(value: Any) -> int | None:
    return None if value is None else int(parse_quantity(value))


def security_path(pod: Obj, container: Obj) -> str:
    """The container's securityContext field path, e.g. "spec.initContainers[0].securityContext"."""
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers"):
        for i, candidate in enumerate(spec.get(key) or []):
            if candidate.get("name") == container.get("name"):
                return f"spec.{key}[{i}].securityContext"
    return "securityContext"


def container_spec(pod: Obj, container: Obj, objects: Mapping[Ref, Obj | None],
                   volumes: Mapping[str, tuple[str, bool]], pod_ip: str, host_ip: str,
                   restart_count: int, seccomp_root: str | None = None,
                   subpath_dir: str | None = None) -> ContainerSpec:
    """The runtime's spec for one container; raises env.ConfigError when it cannot be configured
    (a securityContext this node cannot honour included)."""
    security = security_settings(pod, container, security_path(pod, container), seccomp_root)
    env = resolve_env(pod, container, objects, pod_ip, host_ip)
    command, args = expand_command(container, env)
    limits = (container.get("resources") or {}).get("limits") or {}
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return ContainerSpec(
        name=container["name"], image=str(container.get("image") or ""), command=command, args=args,
        env=tuple(env), working_dir=container.get("workingDir") or None,
        mounts=container_mounts(container, volumes, subpath_dir),
        cpu_millis=_cpu_millis(limits.get("cpu")), memory_bytes=_memory_bytes(limits.get("memory")),
        stop_grace_seconds=float(30 if grace is None else grace), security=security,
        labels=((CONTAINER_HASH_LABEL, container_hash(container)), (RESTART_COUNT_LABEL, str(restart_count))))
