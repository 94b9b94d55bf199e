"""The Node object: registration (create, or update the existing one keeping what others set:
taints, unschedulable) and its status (addresses, capacity, conditions, nodeInfo), refreshed every
`status_period` seconds or at once when a condition changes."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import platform
import shutil
from typing import Any

from .. import __version__
from ..client import AlreadyExists, ApiClient, ApiError, Conflict, NotFound
from ..machinery.local_path import LOCAL_PATH_DIR
from ..machinery.times import rfc3339
from .config import AgentConfig

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NODE = ("v1", "Node")
ATTEMPTS = 5
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
CONDITIONS = (  # type, (reason when False, message), (reason when True, message)
    ("MemoryPressure", ("KubeletHasSufficientMemory", "agent has sufficient memory available"),
     ("KubeletHasInsufficientMemory", "agent has insufficient memory available")),
    ("DiskPressure", ("KubeletHasNoDiskPressure", "agent has no disk pressure"),
     ("KubeletHasDiskPressure", "agent has disk pressure")),
    ("PIDPressure", ("KubeletHasSufficientPID", "agent has sufficient PID available"),
     ("KubeletHasInsufficientPID", "agent has insufficient PID available")),
)


@functools.cache
def arch() -> str:
    machine = platform.machine()
    return ARCH.get(machine, machine or "amd64")


@functools.cache
def os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def pressures(config: AgentConfig) -> dict[str, bool]:
    """MemoryPressure (MemAvailable < 100 MiB), DiskPressure (< 10 % free in the data dir),
    PIDPressure (more than 90 % of pid_max in use); all False for hollow nodes."""
    out = {"MemoryPressure": False, "DiskPressure": False, "PIDPressure": False}
    if not config.pressure_checks:
        return out
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) for line in f if len(line.split()) >= 2}
        out["MemoryPressure"] = info.get("MemAvailable", 1 << 30) < 100 * 1024
    except (OSError, ValueError):
        pass
    try:
        usage = shutil.disk_usage(config.data_dir if os.path.isdir(config.data_dir) else "/")
        out["DiskPressure"] = usage.free < usage.total * 0.10
    except OSError:
        pass
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        pids = sum(1 for name in os.listdir("/proc") if name.isdigit())
        out["PIDPressure"] = pids > pid_max * 0.9
    except (OSError, ValueError):
        pass
    return out


def conditions(previous: list[Obj], config: AgentConfig, ready: bool, now: str) -> list[Obj]:
    """The node conditions: heartbeat now, transition time kept unless the status changes."""
    old = {c.get("type"): c for c in previous}
    flags = pressures(config)
    out: list[Obj] = []

    def add(kind: str, status: str, reason: str, message: str) -> None:
        before = old.get(kind) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        out.append({"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": since or now})

    for kind, good, bad in CONDITIONS:
        reason, message = bad if flags[kind] else good
        add(kind, "True" if flags[kind] else "False", reason, message)
    if ready:
        add("Ready", "True", "KubeletReady", "raftkube agent is posting ready status")
    else:
        add("Ready", "False", "KubeletNotReady", "container runtime is not ready")
    return out


def node_status(config: AgentConfig, runtime_version: str, previous: Obj | None, ready: bool = True) -> Obj:
    resources = {"cpu": config.cpu_capacity, "memory": config.memory_capacity, "pods": str(config.pods)}
    uname = platform.uname()
    status = dict(previous or {})
    status.update(
        capacity=dict(resources), allocatable=dict(resources),
        conditions=conditions(list(status.get("conditions") or []), config, ready, rfc3339()),
        addresses=[{"type": "InternalIP", "address": config.address}, {"type": "Hostname", "address": config.node}],
        daemonEndpoints={"kubeletEndpoint": {"Port": int(config.port or 0)}},
        nodeInfo={"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": uname.release,
                  "osImage": os_image(), "containerRuntimeVersion": runtime_version,
                  "kubeletVersion": f"raftkube-{__version__}", "kubeProxyVersion": f"raftkube-{__version__}",
                  "operatingSystem": "linux", "architecture": arch()})
    return status


def node_labels(config: AgentConfig) -> dict[str, str]:
    return {"kubernetes.io/hostname": config.node, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch(),
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch(), **config.labels}


def node_annotations(config: AgentConfig) -> dict[str, str]:
    """The local-path provisioner makes this node's volumes under this directory (control/local_path.py)."""
    return {LOCAL_PATH_DIR: config.storage_dir}


def condition_flags(status: Obj | None) -> dict[str, str]:
    return {c.get("type"): c.get("status") for c in (status or {}).get("conditions") or []}


async def register(client: ApiClient, config: AgentConfig, runtime_version: str) -> Obj:
    """Create the Node, or update the existing one (labels, podCIDR if unset; taints kept); then its status."""
    for _ in range(ATTEMPTS):
        try:
            node = await client.get(NODE, config.node)
        except NotFound:
            body = {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": config.node, "labels": node_labels(config),
                                 "annotations": node_annotations(config)},
                    "spec": {"podCIDR": config.pod_cidr, "podCIDRs": [config.pod_cidr]},
                    "status": node_status(config, runtime_version, None)}
            try:
                node = await client.create(NODE, body)
            except AlreadyExists:
                continue
        else:
            meta = node["metadata"]
            spec = dict(node.get("spec") or {})
            labels = {**(meta.get("labels") or {}), **node_labels(config)}
            notes = {**(meta.get("annotations") or {}), **node_annotations(config)}
            if spec.get("podCIDR") and spec["podCIDR"] != config.pod_cidr:
                log.warning("node %s has podCIDR %s; this agent uses %s", config.node, spec["podCIDR"],
                            config.pod_cidr)
            spec.setdefault("podCIDR", config.pod_cidr)
            spec.setdefault("podCIDRs", [spec["podCIDR"]])
            if labels != meta.get("labels") or notes != meta.get("annotations") or spec != node.get("spec"):
                try:
                    node = await client.update(NODE, {**node, "metadata": {**meta, "labels": labels,
                                                                           "annotations": notes}, "spec": spec})
                except Conflict:
                    continue
        return await update_status(client, config, runtime_version, node)
    raise ApiError(message=f"could not register node {config.node}")


async def update_status(client: ApiClient, config: AgentConfig, runtime_version: str, node: Obj,
                        ready: bool = True) -> Obj:
    """Write the node status from `node` (re-read on conflict, bounded)."""
    for _ in range(ATTEMPTS):
        body = {**node, "status": node_status(config, runtime_version, node.get("status"), ready)}
        try:
            return await client.update_status(NODE, body)
        except Conflict:
            node = await client.get(NODE, config.node)
    raise ApiError(message=f"could not update the status of node {config.node}")


class NodeStatusLoop:
    """Refresh the status every `period` seconds, or sooner when a condition flips (checked each second)."""

    def __init__(self, client: ApiClient, config: AgentConfig, runtime_version: str, node: Obj) -> None:
        self.client, self.config, self.runtime_version, self.node = client, config, runtime_version, node
        self.updates = 0

    async def run(self, period: float) -> None:
        waited = 0.0
        step = min(1.0, period)
        for _ in range(10**9):  # bounded in principle; ends by cancellation
            await asyncio.sleep(step)
            waited += step
            flags = condition_flags(node_status(self.config, self.runtime_version, self.node.get("status")))
            if waited < period and flags == condition_flags(self.node.get("status")):
                continue
            waited = 0.0
            try:
                self.node = await update_status(self.client, self.config, self.runtime_version,
                                                await self.client.get(NODE, self.config.node))
                self.updates += 1
            except ApiError as exc:
                log.warning("node %s: status not updated: %s", self.config.node, exc)
