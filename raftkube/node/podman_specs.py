"""Pure translations between raftkube's runtime specs and Podman API payloads (no I/O).

Names: a sandbox is the Podman pod `rk-<namespace>-<name>-<uid[:8]>`; its containers are
`<pod>_<container>`, and the one instance kept for `logs(previous=True)` is `<pod>_<container>_previous`
(Kubernetes names never contain `_`, so the three parts cannot be confused).
"""

from __future__ import annotations

import math
from typing import Any

from raftkube.node.runtime import (
    CONTAINER_NAME_LABEL,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    NODE_LABEL,
    POD_IP_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    SandboxSpec,
    SandboxState,
    SecuritySettings,
    owner_labels,
)

PREVIOUS_SUFFIX = "_previous"
CPU_PERIOD_US = 100_000

_STATUS: dict[str, ContainerStatus] = {
    "configured": "created", "created": "created", "initialized": "created",
    "running": "running", "paused": "running", "stopping": "running",
    "exited": "exited", "stopped": "exited", "removing": "exited",
}


def pod_name(namespace: str, name: str, uid: str) -> str:
    return f"rk-{namespace}-{name}-{uid[:8]}"


def container_name(pod: str, container: str) -> str:
    return f"{pod}_{container}"


def previous_name(pod: str, container: str) -> str:
    return container_name(pod, container) + PREVIOUS_SUFFIX


def node_filters(node: str, **labels: str) -> list[str]:
    """Label filters in the list form (a dict with list values is sent wrongly by podman-py)."""
    pairs = {MANAGED_BY: MANAGED_BY_VALUE, NODE_LABEL: node, **labels}
    return [f"label={k}={v}" for k, v in pairs.items()]


def owned_by(labels: dict[str, str] | None, node: str) -> bool:
    labels = labels or {}
    return labels.get(MANAGED_BY) == MANAGED_BY_VALUE and labels.get(NODE_LABEL) == node


def pod_create_kwargs(spec: SandboxSpec, node: str) -> dict[str, Any]:
    """Keyword arguments for `PodsManager.create`: labels, published ports or host network, hostname, the
    network to join and the pod's resolv.conf."""
    labels = owner_labels(node) | {
        POD_UID_LABEL: spec.uid, POD_NAMESPACE_LABEL: spec.namespace, POD_NAME_LABEL: spec.name,
        POD_IP_LABEL: spec.pod_ip,
    }
    kwargs: dict[str, Any] = {"labels": labels}
    if spec.host_network:
        kwargs["netns"] = {"nsmode": "host"}
    else:
        kwargs["hostname"] = spec.hostname or spec.name
        if spec.network:
            kwargs["netns"] = {"nsmode": "bridge"}
            kwargs["Networks"] = {spec.network: {}}
        kwargs["portmappings"] = [
            {"host_ip": spec.pod_ip, "host_port": port, "container_port": port, "protocol": "tcp"}
            for port in sorted(set(spec.ports))
        ]
    if spec.dns is not None:
        kwargs["dns_server"] = list(spec.dns.servers)
        kwargs["dns_search"] = list(spec.dns.searches) or ["."]  # "." : no search domains at all
        kwargs["dns_option"] = list(spec.dns.options)
    return kwargs


def podman_user(security: SecuritySettings, image_user: str) -> str | None:
    """Podman's `user` ("uid[:gid]"): runAsUser/runAsGroup over the image's user; None keeps the image's."""
    if security.run_as_user is None and security.run_as_group is None:
        return None
    user = str(security.run_as_user) if security.run_as_user is not None else (image_user.split(":", 1)[0] or "0")
    return user if security.run_as_group is None else f"{user}:{security.run_as_group}"


def security_kwargs(security: SecuritySettings, image_user: str) -> dict[str, Any]:
    """The securityContext as specgen fields. A read-only root gets no tmpfs on /tmp, /run (Podman's
    read_write_tmpfs default), as in Kubernetes; privileged keeps Podman's meaning (all capabilities,
    host devices, no seccomp/masked paths)."""
    kwargs: dict[str, Any] = {"privileged": security.privileged}
    user = podman_user(security, image_user)
    if user is not None:
        kwargs["user"] = user
    if security.groups:
        kwargs["group_add"] = [str(g) for g in security.groups]
    if security.cap_add:
        kwargs["cap_add"] = list(security.cap_add)
    if security.cap_drop:
        kwargs["cap_drop"] = list(security.cap_drop)
    if security.read_only_root:
        kwargs["read_only"] = True
        kwargs["read_write_tmpfs"] = False
    if security.no_new_privileges:
        kwargs["no_new_privileges"] = True
    if security.seccomp is not None:
        kwargs["seccomp_profile_path"] = security.seccomp
    if security.apparmor is not None:
        kwargs["apparmor_profile"] = security.apparmor
    if security.sysctls:
        kwargs["sysctls"] = dict(security.sysctls)
    return kwargs


def container_create_kwargs(spec: ContainerSpec, *, sandbox: SandboxState, node: str,
                            with_limits: bool = True, image_user: str = "") -> dict[str, Any]:
    """Keyword arguments for `ContainersManager.create`, with Kubernetes command/args semantics:
    `command` replaces the image's entrypoint (and drops its CMD), `args` replace the CMD."""
    pod = pod_name(sandbox.namespace, sandbox.name, sandbox.uid)
    labels = owner_labels(node) | {
        POD_UID_LABEL: sandbox.uid, POD_NAMESPACE_LABEL: sandbox.namespace, POD_NAME_LABEL: sandbox.name,
        CONTAINER_NAME_LABEL: spec.name,
    } | dict(spec.labels)
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "name": container_name(pod, spec.name),
        "pod": sandbox.id,
        "labels": labels,
        "init": True,
        "restart_policy": {"Name": "no"},
        "stop_signal": 15,
        "stop_timeout": max(0, math.ceil(spec.stop_grace_seconds)),
        "environment": dict(spec.env),
    } | security_kwargs(spec.security, image_user)
    if spec.command:
        kwargs["entrypoint"] = list(spec.command)
        kwargs["command"] = list(spec.args)
    elif spec.args:
        kwargs["command"] = list(spec.args)
    if spec.working_dir:
        kwargs["working_dir"] = spec.working_dir
    if spec.mounts:
        kwargs["mounts"] = [
            {"type": "bind", "source": m.host_path, "target": m.container_path, "read_only": m.read_only}
            for m in spec.mounts
        ]
    if with_limits:
        if spec.cpu_millis:
            kwargs["cpu_period"] = CPU_PERIOD_US
            kwargs["cpu_quota"] = max(1000, spec.cpu_millis * CPU_PERIOD_US // 1000)
        if spec.memory_bytes:
            kwargs["mem_limit"] = spec.memory_bytes
    return kwargs


def _epoch(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


def reason_for(status: ContainerStatus, exit_code: int | None, oom_killed: bool) -> str | None:
    if status != "exited":
        return None
    if oom_killed:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


def state_from_list_entry(entry: dict[str, Any], oom_killed: bool = False) -> ContainerState:
    """A `ContainerState` from one entry of `GET /containers/json` (podman-py `Container.attrs` of a list)."""
    labels = dict(entry.get("Labels") or {})
    status = _STATUS.get(str(entry.get("State", "")).lower(), "unknown")
    exit_code = entry.get("ExitCode") if status == "exited" else None
    return ContainerState(
        name=labels.get(CONTAINER_NAME_LABEL, ""),
        id=entry["Id"],
        image=entry.get("Image", ""),
        status=status,
        exit_code=exit_code,
        started_at=_epoch(entry.get("StartedAt")),
        finished_at=_epoch(entry.get("ExitedAt")) if status == "exited" else None,
        reason=reason_for(status, exit_code, oom_killed),
        labels=labels,
    )


def is_current(entry: dict[str, Any], pod: str) -> bool:
    """True for the live instance of a container (not the `_previous` one kept for logs, not infra)."""
    labels = entry.get("Labels") or {}
    name = labels.get(CONTAINER_NAME_LABEL)
    names = entry.get("Names") or []
    return name is not None and container_name(pod, name) in names
